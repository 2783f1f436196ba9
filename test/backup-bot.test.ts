import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listBackups } from '../src/store/backups.ts';
import { listRuns } from '../src/store/schedule-runs.ts';
import { ManualClock } from './support/clock.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { download, generateKeyPair, gpgDecrypt, seedServiceDatabase, type TestKeyPair } from './support/backup-fixtures.ts';
import { startTestBot, type TestBot } from './support/bot.ts';
import { createTestDatabase, type TestDatabase } from './support/databases.ts';
import { startTestS3, type TestS3 } from './support/s3.ts';
import { commandAnswer, sendBlockAction, sendSlashCommand } from './support/slack-requests.ts';

const BUCKET = 'rlhf-backups';

describe('/backup through the bot', () => {
  let s3: TestS3;
  let source: TestDatabase;
  let keys: TestKeyPair;
  let slack: FakeSlack;
  let t: TestBot;
  let channelId: string;
  let variables: Record<string, string>;

  beforeAll(async () => {
    s3 = await startTestS3({ buckets: [BUCKET], setAwsEnvironment: true });
    source = await createTestDatabase();
    await seedServiceDatabase(source.url, 5_000);
    keys = await generateKeyPair();
    // The bot reads the variables the config names from its environment, as in production.
    variables = {
      RLHF_DATABASE_URL: source.url,
      RLHF_BACKUP_PUBLIC_KEY: keys.publicKey,
      RLHF_BACKUP_PRIVATE_KEY: keys.privateKey,
    };
  });
  afterAll(async () => {
    await source.drop();
    await s3.close();
  });
  beforeEach(async () => {
    slack = await startFakeSlack();
    for (const id of ['U0SRE', 'U0MALLORY']) slack.addUser({ id });
    slack.addUsergroup({ id: 'S0SRE', users: ['U0SRE'] });
    channelId = slack.addChannel({ name: 'ops' }).id;
    t = await startBackupBot(variables);
  });
  afterEach(async () => {
    await t.stop();
    await slack.close();
  });

  function startBackupBot(env: Record<string, string>) {
    return startTestBot({
      slack,
      env,
      file: {
        permissions: { backup: ['S0SRE'], restore: ['S0SRE'] },
        s3: { endpoint: s3.endpoint, forcePathStyle: true },
        services: {
          'rlhf-audit-trail': {
            backup: {
              databaseUrlEnv: 'RLHF_DATABASE_URL',
              bucket: BUCKET,
              prefix: 'database/daily/',
              encryption: { publicKeyEnv: 'RLHF_BACKUP_PUBLIC_KEY', privateKeyEnv: 'RLHF_BACKUP_PRIVATE_KEY' },
              restoreTest: { tables: ['audit_records'] },
            },
          },
        },
      },
      extra: { escalation: { autoStart: false }, schedules: { autoStart: false } },
    });
  }

  async function command(text: string, userId = 'U0SRE') {
    const responseUrl = slack.newResponseUrl();
    const ack = await sendSlashCommand(t.baseUrl, t.secret, { command: '/backup', text, userId, channelId, responseUrl });
    expect(ack.status).toBe(200);
    await t.bot.idle();
    const { answer, later } = commandAnswer(
      ack.body,
      slack.responses(responseUrl).map((r) => r.body),
    );
    return { ack: answer as { text: string; response_type: string }, responses: later };
  }

  it('asks first, saying what, where and how big; the Confirm click backs up into S3 and posts the outcome', async () => {
    const { ack, responses } = await command('rlhf-audit-trail database');
    expect(ack).toMatchObject({ response_type: 'ephemeral' });
    expect(ack.text).toContain('Looking at what a database backup of *rlhf-audit-trail* would take');
    const question = JSON.stringify(responses.at(-1));
    const key = /s3:\/\/rlhf-backups\/(database\/daily\/rlhf-audit-trail-database-\d{8}T\d{6}\.\d{3}Z\.dump\.gpg)/.exec(
      question,
    )?.[1];
    expect(key).toBeDefined();
    const dbName = new URL(source.url).pathname.slice(1);
    expect(question).toContain(`Dump database \`${dbName}\``);
    expect(question).toMatch(/PostgreSQL 15\.\d+, currently \*\d+(\.\d)? MB\*/);
    expect(question).toContain(`Encrypt with OpenPGP to key \`${keys.fingerprint}\``);
    // Nothing has happened yet.
    expect(await s3.keys(BUCKET)).toEqual([]);

    const id = /"value":"([^"]+)"/.exec(question)![1]!;
    const clicked = await sendBlockAction(t.baseUrl, t.secret, {
      actionId: 'confirmation:confirm',
      value: id,
      userId: 'U0SRE',
      channelId,
      ephemeral: true,
      responseUrl: slack.newResponseUrl(),
    });
    expect(clicked.status).toBe(200);
    await t.bot.idle();

    expect(await s3.keys(BUCKET)).toEqual([key, `${key}.manifest.json`]);
    expect(s3.pendingUploads(BUCKET)).toEqual([]);
    const status = slack.messages(channelId).at(-1)!;
    expect(status.text).toMatch(
      new RegExp(
        `^:white_check_mark: \\*Backup \\(database\\) of rlhf-audit-trail\\* finished after .* \\(confirmed by <@U0SRE>\\): verified s3://rlhf-backups/${key!.replace(/\./g, '\\.')} \\(\\d`,
      ),
    );
    const [record] = await listBackups(t.bot.store, 'rlhf-audit-trail');
    expect(record).toMatchObject({ key, trigger: 'slack', requestedBy: 'U0SRE', encrypted: true });
    expect(
      gpgDecrypt(keys.privateKey, await download(s3.client, BUCKET, key!))
        .subarray(0, 5)
        .toString(),
    ).toBe('PGDMP');
    const audit = await t.bot.store.query<{ action: string; result: string }>(
      `SELECT action, result FROM audit_log WHERE action = 'task.outcome'`,
    );
    expect(audit.rows[0]!.result).toMatch(/^ok: verified s3:\/\/rlhf-backups\//);
  });

  it('runs the restore test on /backup verify and posts the result in the channel', async () => {
    const { responses: asked } = await command('rlhf-audit-trail');
    const id = /"value":"([^"]+)"/.exec(JSON.stringify(asked.at(-1)))![1]!;
    await sendBlockAction(t.baseUrl, t.secret, {
      actionId: 'confirmation:confirm',
      value: id,
      userId: 'U0SRE',
      channelId,
      ephemeral: true,
      responseUrl: slack.newResponseUrl(),
    });
    await t.bot.idle();

    const { ack, responses } = await command('verify rlhf-audit-trail');
    expect(ack.text).toContain('Restore test of *rlhf-audit-trail* started');
    const posted = responses.at(-1)!;
    expect(posted).toMatchObject({ response_type: 'in_channel' });
    expect(String(posted.text)).toMatch(
      /^:white_check_mark: Restore test of \*rlhf-audit-trail\* passed: `database\/daily\/rlhf-audit-trail-database-.*\.dump\.gpg` restored in .* \(audit_records: 5,000 rows\)$/,
    );
  });

  it('refuses people outside the backup group, and asks nothing', async () => {
    const { ack } = await command('rlhf-audit-trail full', 'U0MALLORY');
    expect(ack.text).toContain('You are not allowed to run backups for `rlhf-audit-trail`');
    const verify = await command('verify rlhf-audit-trail', 'U0MALLORY');
    expect(verify.ack.text).toContain('You are not allowed to run restore tests');
  });

  it('says plainly when the database cannot be read, before asking', async () => {
    await t.stop();
    t = await startBackupBot({ ...variables, RLHF_DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none' });
    const { responses } = await command('rlhf-audit-trail');
    expect(String(responses.at(-1)!.text)).toMatch(
      /^:no_entry_sign: Cannot back up \*rlhf-audit-trail\*: PostgreSQL: cannot read the database at 127\.0\.0\.1:9: /,
    );
  });

  it('explains a service without Kubernetes has no config to back up', async () => {
    const { ack } = await command('rlhf-audit-trail config');
    expect(ack.text).toContain('has no Kubernetes namespace configured');
  });

  it('backs up every configured service at the daily backup time and posts the result in the summaries channel', async () => {
    // Tomorrow night: the test key pair was made today, and OpenPGP refuses keys from the future.
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const clock = new ManualClock(`${tomorrow}T01:59:30Z`);
    const scheduled = await startTestBot({
      slack,
      clock,
      env: variables,
      file: {
        s3: { endpoint: s3.endpoint, forcePathStyle: true },
        schedules: { dailyHealth: { enabled: false }, healthWatch: { enabled: false }, monthlyRestoreTest: { enabled: false } },
        services: {
          'rlhf-audit-trail': {
            backup: {
              databaseUrlEnv: 'RLHF_DATABASE_URL',
              bucket: BUCKET,
              prefix: 'scheduled/',
              encryption: { publicKeyEnv: 'RLHF_BACKUP_PUBLIC_KEY' },
            },
          },
        },
      },
      extra: { escalation: { autoStart: false }, schedules: { autoStart: false } },
    });
    try {
      clock.advance(60_000);
      await scheduled.bot.scheduler.tick();
      const post = slack.messages('ops').find((message) => message.text.startsWith(':white_check_mark: Daily backup'))!;
      expect(post.text).toBe(':white_check_mark: Daily backup: 1 of 1 services backed up');
      const backups = await listBackups(scheduled.bot.store, 'rlhf-audit-trail');
      expect(backups).toHaveLength(1);
      expect(backups[0]!.key).toMatch(/^scheduled\/rlhf-audit-trail-database-/);
      const { rows } = await scheduled.bot.store.query<{ actor: string; action: string }>(
        'SELECT actor, action FROM audit_log ORDER BY seq',
      );
      expect(rows).toEqual([
        { actor: 'schedule', action: 'command' },
        { actor: 'schedule', action: 'task.outcome' },
      ]);
      const [run] = await listRuns(scheduled.bot.store, 'dailyBackup');
      expect(run).toMatchObject({ fire_key: `${tomorrow}T02:00`, outcome: 'ok' });
    } finally {
      await scheduled.stop();
    }
  });
});
