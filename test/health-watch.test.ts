import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { startTestBot, type TestBot } from './support/bot.ts';

describe('incidents from failing health checks', () => {
  let slack: FakeSlack;
  let t: TestBot;
  beforeEach(async () => {
    slack = await startFakeSlack();
    slack.addChannel({ name: 'incidents' });
    t = await startTestBot({
      file: { services: { 'pqc-migration-audit': {} }, healthIncidents: { afterConsecutiveCritical: 3, severity: 'P2' } },
      slack,
      extra: { escalation: { autoStart: false }, schedules: { autoStart: false } },
    });
  });
  afterEach(async () => {
    await t.stop();
    await slack.close();
  });

  const incidents = async () =>
    (
      await t.bot.store.query<{ id: number; title: string; severity: string; service: string; channel_id: string }>(
        'SELECT * FROM incidents',
      )
    ).rows;

  it('opens one incident after K critical results in a row, and posts recovery when healthy again', async () => {
    const watch = t.bot.healthWatch;
    expect(await watch.record('pqc-migration-audit', 'critical', 'http service: 503 from /health')).toBe('counted');
    expect(await watch.record('pqc-migration-audit', 'ok', 'all checks ok')).toBe('unchanged');
    expect(await watch.record('pqc-migration-audit', 'critical', 'http service: 503')).toBe('counted');
    expect(await watch.record('pqc-migration-audit', 'critical', 'http service: 503')).toBe('counted');
    expect(await incidents()).toHaveLength(0);
    expect(await watch.record('pqc-migration-audit', 'critical', 'http service: 503 from /health')).toBe('opened');
    expect(await watch.record('pqc-migration-audit', 'critical', 'http service: 503')).toBe('counted');
    const [incident, ...others] = await incidents();
    expect(others).toHaveLength(0);
    expect(incident).toMatchObject({
      title: 'pqc-migration-audit health checks critical 3 times in a row',
      severity: 'P2',
      service: 'pqc-migration-audit',
    });

    expect(await watch.record('pqc-migration-audit', 'warn', 'latency 1.4s over 1s')).toBe('recovered');
    expect(slack.messages(incident!.channel_id).at(-1)!.text).toContain('`pqc-migration-audit` is healthy again');
    expect(await watch.record('pqc-migration-audit', 'ok', 'fine')).toBe('unchanged');
  });

  it('opens the incident once when replicas record the same streak at once', async () => {
    const watch = t.bot.healthWatch;
    await watch.record('pqc-migration-audit', 'critical', 'down');
    await watch.record('pqc-migration-audit', 'critical', 'down');
    const outcomes = await Promise.all([
      watch.record('pqc-migration-audit', 'critical', 'down'),
      watch.record('pqc-migration-audit', 'critical', 'down'),
    ]);
    expect(outcomes.filter((outcome) => outcome === 'opened')).toHaveLength(1);
    expect(await incidents()).toHaveLength(1);
  });
});
