import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../src/config/load.ts';
import { ConfigError } from '../src/errors.ts';

const slackEnv = { SLACK_BOT_TOKEN: 'xoxb-1-2-3', SLACK_SIGNING_SECRET: 'signing-secret-123' };

function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('starts from built-in defaults when there is no config file, with the runbook escalation matrix', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-config-'));
    const config = loadConfig({ env: slackEnv, cwd: dir });
    expect(config.source).toBeUndefined();
    expect(config.timezone).toBe('UTC');
    expect(config.env.PORT).toBe(3000);
    expect(config.file.incidents.channelPrefix).toBe('incident');
    expect(config.file.escalation.default.map((level) => [level.after / 60_000, level.label])).toEqual([
      [15, 'Engineering lead'],
      [30, 'Incident commander'],
      [60, 'Executive team'],
      [120, 'External support'],
    ]);
    expect(config.file.incidents.severities).toEqual({ P0: 0, P1: 3_600_000, P2: 14_400_000, P3: 86_400_000 });
    expect(config.file.schedules.dailyHealth.cron).toBe('0 6 * * *');
  });

  it('refuses REDIS_URL without DATABASE_URL: replicas need one shared PostgreSQL', () => {
    const error = configErrorOf(() => parseConfig({ ...slackEnv, REDIS_URL: 'redis://127.0.0.1:6379' }, {}));
    expect(error.issues).toEqual([
      'REDIS_URL (environment): coordinates several replicas, which need one shared PostgreSQL: set DATABASE_URL too (the embedded store in DATA_DIR serves one process)',
    ]);
    expect(() =>
      parseConfig({ ...slackEnv, REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://db/bot' }, {}),
    ).not.toThrow();
  });

  it('loads the shipped example config as it is', () => {
    const config = loadConfig({ env: slackEnv, path: 'config/runbook-bot.example.yml' });
    expect(Object.keys(config.file.services).sort()).toEqual(['pqc-migration-audit', 'regulensai', 'rlhf-audit-trail']);
    const rlhf = config.file.services['rlhf-audit-trail']!;
    expect(rlhf.kubernetes?.namespace).toBeTruthy();
    expect(rlhf.privacyBudget?.warnPercent).toBe(80);
    expect(rlhf.privacyBudget?.criticalPercent).toBe(90);
    expect(
      rlhf.health?.http.some((check) =>
        check.assert.some((a) => a.path === 'integrity_score' && a.op === '>=' && a.value === 0.95),
      ),
    ).toBe(true);
    expect(config.file.services['pqc-migration-audit']!.backup?.retentionDays).toBe(30);
  });

  it('reports every bad key, from the environment and the file, in one error', () => {
    const error = configErrorOf(() =>
      parseConfig(
        { SLACK_BOT_TOKEN: 'not-a-token', PORT: 'eighty' },
        {
          timezone: 'Mars/Olympus',
          incidents: { channelPrefix: 'Incident Room', severites: {} },
          escalation: {
            default: [
              { after: '30m', label: 'b' },
              { after: '15m', label: 'a' },
            ],
          },
          services: { api: { health: { http: [{ name: 'x', url: 'not a url' }] } } },
          schedules: { dailyHealth: { cron: '61 * * * *' } },
        },
        '/etc/runbook-bot.yml',
      ),
    );
    const text = error.message;
    expect(text).toContain('SLACK_BOT_TOKEN (environment): must be a bot token starting with xoxb-');
    expect(text).toContain('PORT (environment)');
    expect(text).toContain('SLACK_SIGNING_SECRET (environment): is required in HTTP mode');
    expect(text).toContain('/etc/runbook-bot.yml: timezone: "Mars/Olympus" is not an IANA time zone');
    expect(text).toContain('incidents.channelPrefix');
    expect(text).toContain('incidents: unknown key(s) "severites"');
    expect(text).toContain('escalation.default[1].after: levels must be in increasing order');
    expect(text).toContain('services.api.health.http[0].url');
    expect(text).toContain('schedules.dailyHealth.cron: "61 * * * *" is not a valid cron expression');
    expect(error.issues.length).toBeGreaterThanOrEqual(9);
  });

  it('names a YAML syntax error with its file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-config-'));
    const file = join(dir, 'bad.yml');
    writeFileSync(file, 'services:\n  api: [unclosed\n');
    expect(configErrorOf(() => loadConfig({ env: slackEnv, path: file })).message).toContain(`${file}: YAML syntax`);
  });

  it('refuses an explicit config path that does not exist', () => {
    expect(
      configErrorOf(() => loadConfig({ env: { ...slackEnv, RUNBOOK_BOT_CONFIG: '/nope/runbook-bot.yml' } })).message,
    ).toContain('RUNBOOK_BOT_CONFIG (environment): the file /nope/runbook-bot.yml does not exist');
  });

  it('does not need Slack credentials for the CLI, and uses Socket Mode without a signing secret', () => {
    expect(parseConfig({}, {}, undefined, 'cli').env.SLACK_BOT_TOKEN).toBeUndefined();
    expect(parseConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' }, {}).env.SLACK_APP_TOKEN).toBe('xapp-1');
  });

  it('takes the time zone from the file, else TZ, else UTC; empty variables count as unset', () => {
    expect(parseConfig({ ...slackEnv, TZ: 'Europe/Berlin' }, {}).timezone).toBe('Europe/Berlin');
    expect(parseConfig({ ...slackEnv, TZ: 'Europe/Berlin' }, { timezone: 'America/New_York' }).timezone).toBe('America/New_York');
    expect(parseConfig({ ...slackEnv, TZ: '', DATABASE_URL: '' }, {}).env.DATABASE_URL).toBeUndefined();
  });

  it('parses JSON assertions and rejects malformed ones', () => {
    const config = parseConfig(slackEnv, {
      services: {
        a: { health: { http: [{ name: 'x', url: 'http://a/health', assert: ['status == "healthy"', 'checks.db.ok == true'] }] } },
      },
    });
    expect(config.file.services.a!.health!.http[0]!.assert).toEqual([
      { text: 'status == "healthy"', path: 'status', op: '==', value: 'healthy' },
      { text: 'checks.db.ok == true', path: 'checks.db.ok', op: '==', value: true },
    ]);
    expect(
      configErrorOf(() =>
        parseConfig(slackEnv, { services: { a: { health: { http: [{ name: 'x', url: 'http://a', assert: ['>= 3'] }] } } } }),
      ).message,
    ).toContain('is not an assertion like "integrity_score >= 0.95"');
  });
});
