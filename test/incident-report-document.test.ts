import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../src/cli.ts';
import { addFollowUp } from '../src/store/follow-ups.ts';
import { acknowledgeIncident, addEvent, insertIncident, listEvents } from '../src/store/incidents.ts';
import type { TestBot } from './support/bot.ts';
import { minutes, type ManualClock } from './support/clock.ts';
import { incidentCommand, incidentFile, START, startIncidentInChannel, stopIncidentBot } from './support/incident-fixture.ts';
import { openTestStore } from './support/stores.ts';

const SECTIONS = [
  '## Summary',
  '## Impact',
  '## Durations',
  '## Escalations reached',
  '## Tasks run',
  '## Timeline',
  '## Follow-ups',
];

describe('the post-incident report document', () => {
  let t: TestBot;
  let clock: ManualClock;
  let channelId: string;
  let incidentId: number;

  beforeEach(async () => {
    ({ t, clock, channelId, incidentId } = await startIncidentInChannel(incidentFile, {
      severity: 'P2',
      service: 'rlhf-audit-trail',
    }));
  });
  afterEach(() => stopIncidentBot(t));

  const command = (text: string, userId = 'U0ALICE') => incidentCommand(t, text, userId, channelId);
  const workThrough = async () => {
    await t.bot.poller.tick();
    await t.bot.poller.tick();
  };
  const resolveAfterWork = async () => {
    clock.advance(minutes(6));
    await command('ack', 'U0BOB');
    clock.advance(minutes(14));
    await workThrough(); // level 1 (Engineering lead) is paged at +15m
    await command('followup Alert on audit write errors <@U0BOB>');
    clock.advance(minutes(20));
    await command('resolve config reverted');
    await workThrough();
  };

  it('is the channel canvas when the workspace allows canvases, with every section', async () => {
    await resolveAfterWork();
    const canvases = t.slack.canvases();
    expect(canvases).toHaveLength(1);
    expect(canvases[0]!.channel).toBe(channelId);
    const markdown = canvases[0]!.markdown;
    for (const section of SECTIONS) expect(markdown).toContain(section);
    expect(markdown).toContain('- Time to acknowledge: 6m');
    expect(markdown).toContain('- Time to resolve: 40m');
    expect(markdown).toContain('- 1. Engineering lead');
    expect(markdown).toMatch(/## Tasks run\n- .*Health check of rlhf-audit-trail/);
    expect(markdown).toContain('- [ ] #1 Alert on audit write errors (owner ![](@U0BOB), due');
    expect(markdown).toContain('- Commander: ![](@U0BOB)');
    expect(t.slack.files()).toHaveLength(0);
    const published = (await listEvents(t.bot.store, incidentId)).filter((event) => event.kind === 'report_published');
    expect(published.map((event) => event.text)).toEqual(['Post-incident report created as the channel canvas']);
    // Once: more passes make no second canvas.
    await workThrough();
    expect(t.slack.canvases()).toHaveLength(1);
  });

  it('is a Markdown file in the channel when canvases are not allowed', async () => {
    t.slack.refuseCanvases('team_tier_cannot_create_canvases');
    await resolveAfterWork();
    expect(t.slack.canvases()).toHaveLength(0);
    const [file] = t.slack.files();
    expect(file).toMatchObject({ filename: `incident-${incidentId}-report.md`, completed: true, channels: [channelId] });
    const markdown = file!.bytes!.toString('utf8');
    for (const section of SECTIONS) expect(markdown).toContain(section);
    expect(markdown).toContain('- [ ] #1 Alert on audit write errors (owner @U0BOB, due');
    const published = (await listEvents(t.bot.store, incidentId)).filter((event) => event.kind === 'report_published');
    expect(published.map((event) => event.text)).toEqual(['Post-incident report posted as a Markdown file']);
  });
});

describe('runbook-bot incident report', () => {
  it('prints the same document by number, channel id or name, with user text kept inert', async () => {
    const testStore = await openTestStore();
    const at = new Date(START);
    const { incident } = await insertIncident(testStore.store, {
      declarationKey: 'cli-report',
      title: 'Audit *writes* fail <!channel>',
      severity: 'P1',
      service: 'rlhf-audit-trail',
      summary: 'Writes failed for 20 minutes',
      source: 'slack',
      declaredBy: 'U0ALICE',
      declaredAt: at,
      ackDueAt: null,
      steps: [],
    });
    await testStore.store.query('UPDATE incidents SET channel_id = $2, channel_name = $3 WHERE id = $1', [
      incident.id,
      'C0REPORT',
      'incident-2026-11-22-1534',
    ]);
    await acknowledgeIncident(testStore.store, incident.id, 'U0BOB', new Date(at.getTime() + minutes(3)));
    await addEvent(
      testStore.store,
      incident.id,
      new Date(at.getTime() + minutes(4)),
      'task_run',
      'U0BOB',
      'Health check of rlhf-audit-trail: critical',
    );
    await addFollowUp(testStore.store, {
      incidentId: incident.id,
      text: 'Add a canary',
      owner: null,
      createdBy: 'U0BOB',
      createdAt: at,
      dueAt: new Date(at.getTime() + 7 * 86_400_000),
    });
    // The embedded store serves one process at a time: the CLI opens it after the test has let go.
    if (testStore.dataDir) await testStore.store.close();
    const configDir = mkdtempSync(join(tmpdir(), 'rb-report-cli-'));
    writeFileSync(join(configDir, 'runbook-bot.yml'), stringify({ services: { 'rlhf-audit-trail': {} } }));
    const env = {
      SLACK_BOT_TOKEN: 'xoxb-cli',
      RUNBOOK_BOT_CONFIG: join(configDir, 'runbook-bot.yml'),
      ...(testStore.url ? { DATABASE_URL: testStore.url } : { DATA_DIR: testStore.dataDir! }),
    };
    try {
      const outputs: string[] = [];
      for (const ref of [String(incident.id), 'C0REPORT', '#incident-2026-11-22-1534']) {
        const out: string[] = [];
        const code = await runCli(
          ['incident', 'report', ref, '--markdown'],
          { out: (line) => out.push(line), err: () => {} },
          env,
        );
        expect(code, ref).toBe(0);
        outputs.push(out.join('\n'));
      }
      expect(new Set(outputs).size).toBe(1);
      const markdown = outputs[0]!;
      expect(markdown).toContain(`# Incident #${incident.id}: Audit \\*writes\\* fail &lt;!channel&gt;`);
      expect(markdown).toContain('- Time to acknowledge: 3m');
      expect(markdown).toContain('- Time to resolve: not resolved');
      expect(markdown).toMatch(/## Tasks run\n- .*: Health check of rlhf-audit-trail: critical \(@U0BOB\)/);
      expect(markdown).toContain('- [ ] #1 Add a canary (no owner, due');

      const err: string[] = [];
      expect(await runCli(['incident', 'report', '999'], { out: () => {}, err: (line) => err.push(line) }, env)).toBe(64);
      expect(err.join('\n')).toContain('No incident is known as `999`.');
      expect(await runCli(['incident', 'report'], { out: () => {}, err: (line) => err.push(line) }, env)).toBe(64);
      expect(err.join('\n')).toContain('Usage: runbook-bot incident report <channel|id> [--markdown]');
    } finally {
      await testStore.close();
      rmSync(configDir, { recursive: true, force: true });
    }
  });
});
