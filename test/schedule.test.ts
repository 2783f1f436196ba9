import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobWork } from '../src/schedule/jobs.ts';
import { listRuns } from '../src/store/schedule-runs.ts';
import { appendAudit } from '../src/store/audit.ts';
import { operationsReportPost } from '../src/schedule/jobs.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import type { StoreKind } from './support/stores.ts';
import { startTestBot, type TestBot } from './support/bot.ts';
import { ManualClock, minutes } from './support/clock.ts';
import { sendSlashCommand } from './support/slack-requests.ts';

describe('scheduled jobs', () => {
  let slack: FakeSlack;
  let clock: ManualClock;
  const bots: TestBot[] = [];
  let runs: string[];

  const file = {
    timezone: 'Europe/Berlin',
    channels: { summaries: '#ops' },
    schedules: {
      dailyBackup: { cron: '0 2 * * *' },
      dailyHealth: { enabled: false },
      privacyBudget: { enabled: false },
      monthlyRestoreTest: { enabled: false },
      catchUpWithin: '6h',
    },
  };

  function work(fail = false): JobWork {
    return {
      dailyBackup: async (context) => {
        runs.push(`${context.scheduledAt.toISOString()} late=${context.late}`);
        return fail
          ? {
              outcome: 'failed',
              summary: 'rlhf-audit-trail: pg_dump exited with code 1',
              post: { text: ':x: Daily backup failed for rlhf-audit-trail: pg_dump exited with code 1' },
            }
          : {
              outcome: 'ok',
              summary: '3 services backed up',
              post: { text: ':white_check_mark: Daily backup: 3 services backed up' },
            };
      },
    };
  }

  async function startReplica(fail = false, databaseUrl?: string, store?: StoreKind) {
    const bot = await startTestBot({
      file,
      clock,
      slack,
      ...(databaseUrl ? { databaseUrl } : {}),
      ...(store ? { store } : {}),
      extra: { jobWork: work(fail), schedules: { autoStart: false }, escalation: { autoStart: false } },
    });
    bots.push(bot);
    return bot;
  }

  beforeEach(async () => {
    runs = [];
    slack = await startFakeSlack();
    slack.addChannel({ name: 'ops' });
  });
  afterEach(async () => {
    for (const bot of bots.splice(0).reverse()) await bot.stop();
    await slack.close();
  });

  it('runs each firing once across three replicas and records it', async () => {
    clock = new ManualClock('2026-11-22T00:59:30Z'); // 01:59:30 in Berlin
    // Replicas share one PostgreSQL database.
    const first = await startReplica(false, undefined, 'postgres');
    const replicas = [first, await startReplica(false, first.databaseUrl), await startReplica(false, first.databaseUrl)];
    await Promise.all(replicas.map((replica) => replica.bot.scheduler.tick()));
    clock.advance(60_000); // 02:00:30 Berlin
    await Promise.all(replicas.map((replica) => replica.bot.scheduler.tick()));
    await Promise.all(replicas.map((replica) => replica.bot.scheduler.tick()));
    expect(runs).toEqual(['2026-11-22T01:00:00.000Z late=false']);
    const [run] = await listRuns(first.bot.store, 'dailyBackup');
    expect(run).toMatchObject({ fire_key: '2026-11-22T02:00', outcome: 'ok', summary: '3 services backed up', late: false });
    expect(replicas.map((replica) => replica.bot.scheduler.replica)).toContain(run!.replica);
    expect(run!.duration_ms).toBeGreaterThanOrEqual(0);
    expect(slack.messages('ops').map((message) => message.text)).toEqual([
      ':white_check_mark: Daily backup: 3 services backed up',
    ]);
    const metrics = (await Promise.all(replicas.map((replica) => replica.bot.metrics.registry.metrics()))).join('\n');
    expect(metrics.match(/runbook_bot_task_duration_seconds_count\{task="dailyBackup",outcome="ok"\} 1/g)).toHaveLength(1);
  });

  it('catches up a firing missed while no replica was up, says it ran late, and skips older ones', async () => {
    clock = new ManualClock('2026-11-22T06:12:00Z'); // 07:12 Berlin: the 02:00 firing is 5h12m old, within 6h
    const bot = await startReplica();
    await bot.bot.scheduler.catchUp();
    expect(runs).toEqual(['2026-11-22T01:00:00.000Z late=true']);
    expect(slack.messages('ops').at(-1)!.text).toContain('ran late: scheduled 02:00, started 07:12');
    await bot.bot.scheduler.catchUp();
    expect(runs).toHaveLength(1);

    const stale = await startTestBot({
      file,
      clock: new ManualClock('2026-11-22T08:30:00Z'),
      slack,
      extra: { jobWork: work(), schedules: { autoStart: false }, escalation: { autoStart: false } },
    });
    bots.push(stale);
    await stale.bot.scheduler.catchUp();
    expect(runs).toHaveLength(1);
  });

  it('reports a failed backup in the summary post and in the weekly report', async () => {
    clock = new ManualClock('2026-11-22T00:59:00Z');
    const bot = await startReplica(true);
    clock.advance(minutes(2));
    await bot.bot.scheduler.tick();
    expect(slack.messages('ops').at(-1)!.text).toBe(':x: Daily backup failed for rlhf-audit-trail: pg_dump exited with code 1');

    const responseUrl = slack.newResponseUrl();
    const ops = slack.channelByName('ops')!;
    await sendSlashCommand(bot.baseUrl, bot.secret, { command: '/incident', text: 'report 7d', channelId: ops.id, responseUrl });
    await bot.bot.idle();
    const report = slack.responses().at(-1)!.body as { response_type: string; blocks: unknown[] };
    expect(report.response_type).toBe('in_channel');
    const text = JSON.stringify(report.blocks);
    expect(text).toContain('Operations report (7d)');
    expect(text).toContain('dailyBackup: 1 run, 1 failed; last: failed (rlhf-audit-trail: pg_dump exited with code 1)');
    expect(slack.files().at(-1)).toMatchObject({ filename: 'incidents-7d.png', completed: true });
  });

  it('posts the weekly report with its chart on schedule', async () => {
    clock = new ManualClock('2026-11-23T07:59:00Z'); // Monday 08:59 Berlin
    const bot = await startReplica();
    await bot.bot.incidents
      .declare({ key: 'k1', title: 'Disk full on postgresql-0', severity: 'P1', declaredBy: 'U0ALICE' })
      .catch(() => undefined);
    clock.advance(minutes(2));
    await bot.bot.scheduler.tick();
    const post = slack.messages('ops').find((message) => message.text.startsWith('Weekly operations report'))!;
    expect(post.text).toMatch(/^Weekly operations report: 1 incidents/);
    expect(JSON.stringify(post.blocks)).toContain(':large_orange_circle: P1: 1');
    const chart = slack.files().at(-1)!;
    expect(chart).toMatchObject({ filename: 'incidents-7d.png', completed: true });
    expect(chart.bytes!.subarray(1, 4).toString()).toBe('PNG');
  });

  it('counts backups per service with the newest verified one, and the privacy budget trend, in the report', async () => {
    clock = new ManualClock('2026-11-23T08:00:00Z');
    const bot = await startReplica();
    const store = bot.bot.store;
    const at = (day: number) => new Date(Date.UTC(2026, 10, day, 2, 5));
    const outcome = (actor: string, target: string, params: Record<string, unknown>, result: string, day: number) =>
      appendAudit(store, { actor, action: 'task.outcome', target, params, result }, at(day));
    await outcome('schedule', 'rlhf-audit-trail', { command: 'backup', kind: 'database' }, 'ok: 1.2 GB', 20);
    await outcome(
      'schedule',
      'rlhf-audit-trail',
      { command: 'backup', kind: 'database' },
      'failed: pg_dump exited with code 1',
      21,
    );
    await outcome('U0SRE', 'regulensai', { action: 'backup', confirmation: 'c1' }, 'ok: backed up', 22);
    await store.query(
      `INSERT INTO backups (service, kind, bucket, key, size_bytes, sha256, encrypted, started_at, duration_ms, verified_at, trigger)
       VALUES ('rlhf-audit-trail', 'database', 'rlhf-backups', 'database/daily/a.dump.gpg', 1000, 'abc', true, $1, 1000, $1, 'schedule')`,
      [at(20)],
    );
    for (const [day, consumed] of [
      [17, 4.1],
      [20, 6.0],
      [22, 8.4],
    ] as const) {
      await store.query(
        `INSERT INTO privacy_budget_snapshots (service, taken_at, total_epsilon, consumed_epsilon, remaining_epsilon, days_until_reset) VALUES ('rlhf-audit-trail', $1, 10, $2, $3, 9)`,
        [at(day), consumed, 10 - consumed],
      );
    }
    const { post } = await operationsReportPost({ store, config: bot.bot.config, clock }, 7, 'Weekly operations report');
    const text = JSON.stringify(post!.blocks);
    expect(text).toContain('• regulensai: 1 run, 0 failed; newest verified: none');
    expect(text).toContain('• rlhf-audit-trail: 2 runs, 1 failed; newest verified: 20 Nov, 03:05 :warning:');
    expect(text).toContain('• rlhf-audit-trail: 41% → 84% consumed (+43 points over 3 readings), 1.6 epsilon left');
  });
});
