import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { startFakeSocketMode } from './fakes/fake-socket-mode.ts';
import { startBotProcess } from './support/bot-process.ts';

/** The exit code and the stdout lines of a process that is expected to end by itself. */
async function exitOf(child: ChildProcess): Promise<[number | null, string[]]> {
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  return [code, stdout.split('\n').filter((line) => line.trim() !== '')];
}

const run = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;

let slack: FakeSlack;
const env = () => ({
  SLACK_BOT_TOKEN: slack.token,
  SLACK_SIGNING_SECRET: 'process-test-secret',
  SLACK_API_URL: slack.url,
  DATA_DIR: mkdtempSync(join(tmpdir(), 'rb-proc-')),
});

beforeAll(async () => {
  slack = await startFakeSlack();
});
afterAll(async () => {
  await slack.close();
});

describe('the bot as a process', () => {
  it('starts on the embedded store with the example config as it is, and is ready', async () => {
    const bot = await startBotProcess({ ...env(), RUNBOOK_BOT_CONFIG: join(ROOT, 'config/runbook-bot.example.yml') });
    try {
      const ready = await fetch(`${bot.baseUrl}/readyz`);
      expect(ready.status).toBe(200);
      const loaded = bot.logs().find((line) => line.event === 'config.loaded')!;
      expect(loaded.services).toEqual(['rlhf-audit-trail', 'pqc-migration-audit', 'regulensai']);
    } finally {
      await bot.kill();
    }
  });

  it('says it uses built-in defaults when there is no config file', async () => {
    const bot = await startBotProcess(env());
    try {
      expect(bot.logs().some((line) => line.event === 'config.defaults')).toBe(true);
      expect((await fetch(`${bot.baseUrl}/readyz`)).status).toBe(200);
    } finally {
      await bot.kill();
    }
  });

  it('refuses to start on a bad config, naming every bad key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-bad-'));
    const path = join(dir, 'bad.yml');
    writeFileSync(
      path,
      'timezone: Nowhere/Land\nincidents:\n  channelPrefix: "Bad Prefix"\nservices:\n  api:\n    health: { http: [{ name: x, url: nope }] }\n',
    );
    const child = spawn(process.execPath, [join(ROOT, 'src/main.ts')], {
      env: { PATH: process.env.PATH, RUNBOOK_BOT_CONFIG: path, SLACK_SIGNING_SECRET: 'x'.repeat(12) },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(78);
    expect(stderr).toContain('runbook-bot cannot start');
    expect(stderr).toContain('SLACK_BOT_TOKEN (environment): is required');
    expect(stderr).toContain(`${path}: timezone: "Nowhere/Land" is not an IANA time zone`);
    expect(stderr).toContain(`${path}: incidents.channelPrefix`);
    expect(stderr).toContain(`${path}: services.api.health.http[0].url`);
  });

  it('exits 78 with one line naming SLACK_APP_TOKEN when Slack refuses it, at start-up or later, without a stack', async () => {
    const socketMode = await startFakeSocketMode(slack);
    try {
      const wrong = spawn(process.execPath, [join(ROOT, 'src/main.ts')], {
        env: { ...env(), PATH: process.env.PATH, PORT: '0', SLACK_APP_TOKEN: 'xapp-1-A0RUNBOOK-1-wrongtoken' },
      });
      const [code, out] = await exitOf(wrong);
      expect(code).toBe(78);
      const naming = out.filter((line) => line.includes('SLACK_APP_TOKEN'));
      expect(naming).toHaveLength(1);
      expect(naming[0]).toContain('invalid_auth');
      expect(naming[0]).toContain('App-Level Tokens');
      expect(out.join('\n')).not.toMatch(/"stack"|\n\s+at /);

      // Running, connected, then the token is revoked: the next reconnect learns it and the bot stops.
      const bot = await startBotProcess({ ...env(), SLACK_APP_TOKEN: socketMode.appToken });
      // A failed expectation must not leave the replica running.
      onTestFinished(() => bot.kill('SIGKILL').then(() => undefined));
      await vi.waitFor(() => expect(socketMode.openCount).toBeGreaterThan(0), { timeout: 10_000 });
      slack.failNext('apps.connections.open', 'token_revoked', { times: 5 });
      const exited = new Promise<number | null>((resolve) => bot.child.once('exit', resolve));
      socketMode.drop(socketMode.openConnections()[0]!.id);
      expect(await exited).toBe(78);
      const revoked = bot.logs().filter((line) => JSON.stringify(line).includes('SLACK_APP_TOKEN'));
      expect(revoked).toHaveLength(1);
      expect(revoked[0]).toMatchObject({ event: 'slack.app_token_rejected', code: 'slack_app_token_rejected' });
      expect(String(revoked[0]!.msg)).toContain('token_revoked');
    } finally {
      await socketMode.close();
    }
  }, 40_000);

  it('drains and exits 0 within 10 s of SIGTERM', async () => {
    const bot = await startBotProcess(env());
    const started = Date.now();
    const code = await bot.kill('SIGTERM');
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(bot.logs().some((line) => line.event === 'bot.stopped')).toBe(true);
  });
});

describe('the Docker image recipe', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

  it('builds on Node 24 slim in two stages, runs as a non-root user, with pg_dump and a health check', () => {
    expect(dockerfile.match(/^FROM node:24-[a-z]+-slim/gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^FROM .* AS build$/m);
    expect(dockerfile).toMatch(/apt-get install .*postgresql-client/);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
  });

  it('runs the commands it uses: the build, the CMD and the HEALTHCHECK', async () => {
    await run('npm', ['run', '--silent', 'build'], { cwd: ROOT });
    // node, its flags, the script: run as written (a flag Node does not take would stop the bot from starting).
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(cmd[0]).toBe('node');
    const script = join(ROOT, cmd.at(-1)!);
    expect(existsSync(script)).toBe(true);
    expect(existsSync(join(ROOT, 'dist/src/store/migrations/postgres/001_task_runs.sql'))).toBe(true);
    expect(existsSync(join(ROOT, 'dist/src/store/migrations/sqlite/009_initial_schema.sql'))).toBe(true);
    const check = JSON.parse(/^ {2}CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(check[0]).toBe('node');
    const healthcheck = (port: number) => run(process.execPath, check.slice(1), { env: { ...process.env, PORT: String(port) } });
    const flags = cmd.slice(1, -1).join(' ');
    const bot = await startBotProcess({ ...env(), NODE_ENV: 'production', NODE_OPTIONS: flags }, 30_000, script);
    try {
      await expect(healthcheck(bot.port)).resolves.toBeDefined();
    } finally {
      await bot.kill();
    }
    // Where nothing answers, the same check fails.
    await expect(healthcheck(bot.port)).rejects.toMatchObject({ code: 1 });
  }, 120_000);
});
