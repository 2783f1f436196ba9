import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendSlashCommand, sendSigned, signSlackRequest, slashCommandBody } from './support/slack-requests.ts';
import { startTestBot, type TestBot } from './support/bot.ts';

const services = {
  'rlhf-audit-trail': {
    kubernetes: { namespace: 'rlhf-production', deployments: ['rlhf-audit-trail'] },
    privacyBudget: { url: 'http://127.0.0.1:9/budget' },
  },
  'pqc-migration-audit': {},
};

describe('the bot over HTTP', () => {
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot({ file: { services } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('answers /healthz, /readyz and /metrics', async () => {
    expect(await (await fetch(`${t.baseUrl}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${t.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { store: 'ok' } });
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toContain('runbook_bot_commands_total');
    expect(metrics).toContain('runbook_bot_slack_api_errors_total');
    expect(metrics).toContain('runbook_bot_task_duration_seconds');
    expect((await fetch(`${t.baseUrl}/nope`)).status).toBe(404);
    expect((await fetch(`${t.baseUrl}/healthz`, { method: 'POST' })).status).toBe(405);
  });

  it('answers /health for an unknown service with a helpful ephemeral message (200)', async () => {
    const response = await sendSlashCommand(t.baseUrl, t.secret, { command: '/health', text: 'billing' });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ response_type: 'ephemeral' });
    const text = (response.body as { text: string }).text;
    expect(text).toContain("I don't know a service called `billing`");
    expect(text).toContain('`rlhf-audit-trail`, `pqc-migration-audit`');
    expect(text).toContain('Usage: `/health [service|all] [--details]`');
  });

  it('answers malformed command text with usage, never a stack trace', async () => {
    for (const [command, text, expected] of [
      ['/backup', 'rlhf-audit-trail everything', '`everything` is not a backup kind'],
      ['/rollback', '', 'Usage: `/rollback <service>'],
      ['/rollback', 'rlhf-audit-trail web latest', 'The revision must be a number'],
      ['/privacy-budget', 'pqc-migration-audit', 'has no privacy budget configured'],
      ['/incident', 'explode now', '`explode` is not an /incident subcommand'],
      ['/health', 'a b c', 'Usage: `/health [service|all] [--details]`'],
    ] as const) {
      const response = await sendSlashCommand(t.baseUrl, t.secret, { command, text });
      expect(response.status).toBe(200);
      const body = response.body as { text: string; response_type: string };
      expect(body.response_type).toBe('ephemeral');
      expect(body.text).toContain(expected);
      expect(body.text).not.toMatch(/at .*\.ts:\d+/);
    }
  });

  it('rejects a bad signature and a stale timestamp with 401, and runs nothing', async () => {
    const before = t.slack.calls().length;
    const metricsBefore = (await (await fetch(`${t.baseUrl}/metrics`)).text())
      .split('\n')
      .filter((line) => line.includes('command="incident"'));
    const body = slashCommandBody({ command: '/incident', text: 'declare P1 forged incident' });
    const forged = await sendSigned(t.baseUrl, t.secret, body, { signatureOverride: 'v0=' + '0'.repeat(64) });
    expect(forged.status).toBe(401);
    const stale = await sendSigned(t.baseUrl, t.secret, body, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 });
    expect(stale.status).toBe(401);
    const wrongSecret = await sendSigned(t.baseUrl, 'another-secret-entirely', body);
    expect(wrongSecret.status).toBe(401);
    // Correctly signed, but dated ahead: a day, and just past Slack's five minutes.
    for (const ahead of [24 * 3_600, 5 * 60 + 30]) {
      const future = await sendSigned(t.baseUrl, t.secret, body, { timestamp: Math.floor(Date.now() / 1000) + ahead });
      expect(future.status, `${ahead}s ahead`).toBe(401);
      expect(future.body).toEqual({ error: 'x-slack-request-timestamp is more than five minutes from now' });
    }
    expect(t.slack.calls().length).toBe(before);
    const metricsAfter = (await (await fetch(`${t.baseUrl}/metrics`)).text())
      .split('\n')
      .filter((line) => line.includes('command="incident"'));
    expect(metricsAfter).toEqual(metricsBefore);
  });

  it('refuses a body changed after it was signed, answers an unsigned SSL check with nothing of its payload, and refuses a body over 4 MB', async () => {
    const before = t.slack.calls().length;
    const commands = async () =>
      (await (await fetch(`${t.baseUrl}/metrics`)).text()).split('\n').filter((line) => line.includes('command="incident"'));
    const metricsBefore = await commands();
    const signed = slashCommandBody({ command: '/incident', text: 'list' });
    const tampered = slashCommandBody({ command: '/incident', text: 'declare P1 changed on the way' });
    const { 'X-Slack-Signature': signature } = signSlackRequest(t.secret, signed);
    const changed = await sendSigned(t.baseUrl, t.secret, tampered, { signatureOverride: signature });
    expect(changed.status).toBe(401);

    // Slack's SSL check is unsigned: it is answered, and a command riding along in it is not run.
    const smuggled = `ssl_check=1&${slashCommandBody({ command: '/incident', text: 'declare P1 smuggled in' })}`;
    const check = await sendSigned(t.baseUrl, t.secret, smuggled, { signatureOverride: 'v0=' + '1'.repeat(64) });
    expect(check.status).toBe(200);

    const huge = await sendSigned(t.baseUrl, t.secret, `${signed}&padding=${'x'.repeat(4 * 1024 * 1024)}`);
    expect(huge.status).toBe(413);
    expect(t.slack.calls().length).toBe(before);
    expect(await commands()).toEqual(metricsBefore);
  });

  it('accepts a signed request dated a little ahead of its clock, within five minutes', async () => {
    const ahead = await sendSlashCommand(
      t.baseUrl,
      t.secret,
      { command: '/health', text: 'nope' },
      {
        timestamp: Math.floor(Date.now() / 1000) + 4 * 60,
      },
    );
    expect(ahead.status).toBe(200);
  });

  it('counts commands by name and outcome', async () => {
    await sendSlashCommand(t.baseUrl, t.secret, { command: '/health', text: 'nope' });
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/runbook_bot_commands_total\{command="health",outcome="user_error"\} \d+/);
  });
});

describe('the bot on the embedded store', () => {
  it('starts with only Slack settings and is ready', async () => {
    const t = await startTestBot({ store: 'sqlite' });
    try {
      const ready = await fetch(`${t.baseUrl}/readyz`);
      expect(ready.status).toBe(200);
      expect(t.bot.store.dialect).toBe('sqlite');
    } finally {
      await t.stop();
    }
  });
});

describe('the bot in Socket Mode', () => {
  it('connects through the configured API URL with the app token, and serves no HTTP Slack endpoint', async () => {
    const t = await startTestBot({ env: { SLACK_APP_TOKEN: 'xapp-1-A0RUNBOOK-123-abc' } });
    try {
      expect(t.bot.mode).toBe('socket');
      const open = await t.slack.waitFor('apps.connections.open');
      expect(open.token ?? '').toContain('xapp-');
      expect((await fetch(`${t.baseUrl}/healthz`)).status).toBe(200);
      expect((await fetch(`${t.baseUrl}/slack/events`, { method: 'POST', body: 'x' })).status).toBe(404);
    } finally {
      await t.stop();
    }
  });
});
