import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { insertDelivery } from '../src/store/alerts.ts';
import { enqueueWork } from '../src/store/work.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { startTestBot, type TestBot } from './support/bot.ts';
import { settled } from './support/settled.ts';

const TOKEN = 'alertmanager-token-0123456789';

// The shape Alertmanager's webhook notifier sends (payload version 4): a group key built from the route and
// the group labels, firing alerts with the zero endsAt, fingerprints and generator URLs.
function notification(
  options: { group?: string; status?: 'firing' | 'resolved'; severity?: string; instances?: string[]; service?: string } = {},
) {
  const alertname = options.group ?? 'AuditApiErrorRate';
  const status = options.status ?? 'firing';
  const severity = options.severity ?? 'critical';
  const instances = options.instances ?? ['10.0.4.17:8000'];
  const common = { alertname, severity, namespace: 'rlhf-production', ...(options.service ? { service: options.service } : {}) };
  return {
    receiver: 'runbook-bot',
    status,
    alerts: instances.map((instance, i) => ({
      status,
      labels: { ...common, instance, pod: `rlhf-audit-trail-7c9d6b5f4-${i}` },
      annotations: { summary: 'Audit API 5xx ratio above 5%', description: `5xx ratio on ${instance} is above 5% for 10m` },
      startsAt: '2026-11-22T15:20:03.112Z',
      endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : '2026-11-22T16:02:41.000Z',
      generatorURL: `http://prometheus:9090/graph?g0.expr=rate%28http_requests_total%7Bcode%3D~%225..%22%7D%5B5m%5D%29&g0.tab=1`,
      fingerprint: `f${i}3c1d2e4a5b6c7d8`,
    })),
    groupLabels: { alertname },
    commonLabels: common,
    commonAnnotations: { summary: 'Audit API 5xx ratio above 5%' },
    externalURL: 'http://alertmanager:9093',
    version: '4',
    groupKey: `{}/{severity=~"critical|warning"}:{alertname="${alertname}"}`,
    truncatedAlerts: 0,
  };
}

async function deliver(baseUrl: string, body: unknown, token: string | null = TOKEN) {
  const response = await fetch(`${baseUrl}/webhooks/alertmanager`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const file = {
  channels: { announcements: '#incidents', summaries: '#ops' },
  services: { 'rlhf-audit-trail': {} },
  alertmanager: {
    severityMap: { critical: 'P1', warning: 'P3' },
    openAt: 'P2',
    resolveIncidentOnResolved: true,
    storm: { maxIncidents: 5, window: '10m' },
  },
};

describe('Alertmanager webhook', () => {
  let slack: FakeSlack;
  let t: TestBot;
  const extraBots: TestBot[] = [];

  beforeEach(async () => {
    slack = await startFakeSlack();
    slack.addChannel({ name: 'incidents' });
    slack.addChannel({ name: 'ops' });
    t = await startTestBot({ file, slack, env: { ALERTMANAGER_TOKEN: TOKEN } });
  });
  afterEach(async () => {
    await Promise.all(extraBots.splice(0).map((bot) => bot.stop()));
    await t.stop();
    await slack.close();
  });

  const incidentChannels = () => slack.channels().filter((channel) => channel.name.startsWith('incident-'));
  // Alert posts roll into few messages: the head line of each delivery, wherever it stands.
  const alertHeads = (channelId: string) =>
    slack
      .messages(channelId)
      .flatMap((message) => message.text.split('\n'))
      .filter((line) => line.startsWith(':fire:') || line.startsWith(':white_check_mark: *RESOLVED*'));
  const countIncidents = async () => (await t.bot.store.query<{ n: number }>('SELECT count(*) AS n FROM incidents')).rows[0]!.n;

  it('refuses a missing or wrong token with 401 and stores nothing', async () => {
    expect((await deliver(t.baseUrl, notification(), null)).status).toBe(401);
    expect((await deliver(t.baseUrl, notification(), 'wrong-token-0123456789')).status).toBe(401);
    expect((await deliver(t.baseUrl, notification(), `${TOKEN}x`)).status).toBe(401);
    const { rows } = await t.bot.store.query<{ n: number }>('SELECT count(*) AS n FROM alert_deliveries');
    expect(rows[0]!.n).toBe(0);
  });

  it('answers an invalid body with 400 and the reason', async () => {
    expect(await deliver(t.baseUrl, '{not json')).toEqual({ status: 400, body: { error: 'the body is not JSON' } });
    const wrongVersion = await deliver(t.baseUrl, { ...notification(), version: '3' });
    expect(wrongVersion.status).toBe(400);
    expect(wrongVersion.body.reasons).toEqual(['version: only webhook payload version "4" is supported']);
    const { groupKey: _omitted, ...noGroupKey } = notification();
    const missing = await deliver(t.baseUrl, { ...noGroupKey, alerts: [] });
    expect(missing.body.reasons).toEqual(
      expect.arrayContaining([expect.stringMatching(/^groupKey: /), 'alerts: a notification carries at least one alert']),
    );
  });

  it('opens one incident per group, posts the alerts, and sends repeats into the same channel', async () => {
    const first = await deliver(t.baseUrl, notification({ service: 'rlhf-audit-trail' }));
    expect(first).toMatchObject({ status: 200, body: { status: 'accepted' } });
    await settled(t.bot);
    expect(incidentChannels()).toHaveLength(1);
    const channel = incidentChannels()[0]!;
    const { rows } = await t.bot.store.query<{ title: string; severity: string; service: string; source: string }>(
      'SELECT title, severity, service, source FROM incidents',
    );
    expect(rows[0]).toEqual({
      title: 'AuditApiErrorRate: Audit API 5xx ratio above 5%',
      severity: 'P1',
      service: 'rlhf-audit-trail',
      source: 'alertmanager',
    });
    expect(alertHeads(channel.id).some((line) => line.startsWith(':fire: *FIRING* (P1) AuditApiErrorRate'))).toBe(true);

    await deliver(t.baseUrl, notification({ service: 'rlhf-audit-trail' }));
    await deliver(t.baseUrl, notification({ service: 'rlhf-audit-trail', instances: ['10.0.4.17:8000', '10.0.4.18:8000'] }));
    await settled(t.bot);
    expect(incidentChannels()).toHaveLength(1);
    const posts = alertHeads(channel.id).filter((line) => line.startsWith(':fire:'));
    expect(posts).toHaveLength(3);
    expect(posts[2]).toContain('2 firing, 0 resolved');
    // Three deliveries into one channel: one message, edited as they arrived.
    expect(slack.messages(channel.id).filter((message) => message.text.includes(':fire:'))).toHaveLength(1);
  });

  it('posts groups below the threshold to the summaries channel only', async () => {
    await deliver(t.baseUrl, notification({ group: 'CertificateExpiringSoon', severity: 'warning' }));
    await settled(t.bot);
    expect(incidentChannels()).toHaveLength(0);
    expect(slack.messages('ops').at(-1)!.text).toContain('(P3) CertificateExpiringSoon');
  });

  it('posts the resolution, resolves the incident when configured, and opens a new one if it fires again', async () => {
    await deliver(t.baseUrl, notification());
    await settled(t.bot);
    const [channel] = incidentChannels();
    await deliver(t.baseUrl, notification({ status: 'resolved' }));
    await settled(t.bot);
    expect(alertHeads(channel!.id).some((line) => line.startsWith(':white_check_mark: *RESOLVED*'))).toBe(true);
    const { rows } = await t.bot.store.query<{ status: string; resolved_by: string }>(
      'SELECT status, resolved_by FROM incidents',
    );
    expect(rows).toEqual([{ status: 'resolved', resolved_by: 'alertmanager' }]);

    await deliver(t.baseUrl, notification());
    await settled(t.bot);
    expect(incidentChannels()).toHaveLength(2);
    expect(await countIncidents()).toBe(2);
  });

  it('opens one channel when three replicas receive the same group at once', async () => {
    // Replicas share one PostgreSQL database.
    await t.stop();
    t = await startTestBot({
      file,
      slack,
      store: 'postgres',
      env: { ALERTMANAGER_TOKEN: TOKEN },
    });
    for (let i = 0; i < 2; i += 1) {
      extraBots.push(
        await startTestBot({
          file,
          slack,
          databaseUrl: t.databaseUrl,
          env: { ALERTMANAGER_TOKEN: TOKEN },
        }),
      );
    }
    const bots = [t, ...extraBots];
    const responses = await Promise.all(
      bots.flatMap((bot) => [deliver(bot.baseUrl, notification()), deliver(bot.baseUrl, notification())]),
    );
    expect(responses.every((response) => response.status === 200)).toBe(true);
    await Promise.all(bots.map((bot) => settled(bot.bot)));
    expect(incidentChannels()).toHaveLength(1);
    expect(await countIncidents()).toBe(1);
    expect(alertHeads(incidentChannels()[0]!.id).filter((line) => line.startsWith(':fire:'))).toHaveLength(6);
  });

  it('folds a storm of 200 groups into five incidents and one storm incident', async () => {
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => deliver(t.baseUrl, notification({ group: `NodeDown${i}` }))),
    );
    expect(responses.every((response) => response.status === 200)).toBe(true);
    await settled(t.bot, 100_000);
    const { rows } = await t.bot.store.query<{ title: string }>('SELECT title FROM incidents ORDER BY id');
    expect(rows).toHaveLength(6);
    expect(rows.filter((row) => row.title.startsWith('Alert storm'))).toHaveLength(1);
    expect(incidentChannels()).toHaveLength(6);
    const storm = (
      await t.bot.store.query<{ channel_id: string; id: number }>(
        `SELECT id, channel_id FROM incidents WHERE title LIKE 'Alert storm%'`,
      )
    ).rows[0]!;
    expect(alertHeads(storm.channel_id).filter((line) => line.startsWith(':fire:'))).toHaveLength(195);
    // 195 deliveries into one channel do not become 195 messages: they roll into a few, edited as they arrive.
    expect(slack.messages(storm.channel_id).filter((message) => message.text.includes(':fire:')).length).toBeLessThan(30);
    const { rows: links } = await t.bot.store.query<{ n: number }>(
      'SELECT count(*) AS n FROM alert_group_incidents WHERE incident_id = $1',
      [storm.id],
    );
    expect(links[0]!.n).toBe(195);
  }, 120_000);

  it('processes a delivery that was stored but never processed (a crash after the 200)', async () => {
    const payload = notification({ group: 'PrivacyBudgetLow' });
    // What the receiving replica stored before its 200: the delivery and the work of processing it.
    await t.bot.store.transaction(async (tx) => {
      const id = await insertDelivery(tx, {
        receivedAt: new Date(),
        groupKey: payload.groupKey,
        status: 'firing',
        body: payload,
      });
      await enqueueWork(tx, { kind: 'alert', key: `alert:${id}`, priority: 1, runAt: new Date() }, new Date());
    });
    await t.bot.poller.tick();
    await settled(t.bot);
    expect(incidentChannels()).toHaveLength(1);
    const { rows } = await t.bot.store.query<{ n: number }>(
      'SELECT count(*) AS n FROM alert_deliveries WHERE processed_at IS NULL',
    );
    expect(rows[0]!.n).toBe(0);
  });
});
