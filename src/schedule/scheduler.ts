// Runs the configured jobs on their cron schedules: node-cron wakes each replica, the store lets one of them run each firing.
import { REPLICA_ID } from '../replica.ts';
import { createTask, type ScheduledTask } from 'node-cron';
import type { Clock } from '../clock.ts';
import { formatDuration } from '../config/duration.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../store/db.ts';
import { claimFiring, finishFiring } from '../store/schedule-runs.ts';
import { CronSchedule } from './cron-times.ts';

export interface JobContext {
  scheduledAt: Date;
  /** The firing's wall-clock key ("2026-11-22T02:00"), unique per job. */
  key: string;
  /** True when the firing runs well after its time (caught up at start-up). */
  late: boolean;
  log: Logger;
}

export interface JobOutcome {
  outcome: 'ok' | 'warn' | 'failed';
  summary: string;
}

export interface ScheduledJob {
  name: string;
  cron: string;
  timezone: string;
  run(context: JobContext): Promise<JobOutcome>;
}

export interface SchedulerOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  jobs: ScheduledJob[];
  /** A firing missed while no replica was up still runs at start-up if it is at most this old. */
  catchUpWithinMs: number;
  /** A firing that starts later than this after its time is reported as late. */
  lateAfterMs?: number;
  /** Scheduled job durations go into task_duration_seconds, labelled with the job's name. */
  metrics?: Pick<Metrics, 'taskDuration'>;
}

export class Scheduler {
  readonly replica = REPLICA_ID;
  readonly #o: SchedulerOptions;
  readonly #schedules: Map<string, CronSchedule>;
  readonly #checkedUntil = new Map<string, Date>();
  readonly #tasks: ScheduledTask[] = [];
  readonly #running = new Set<Promise<void>>();
  #stopped = false;

  constructor(options: SchedulerOptions) {
    this.#o = options;
    this.#schedules = new Map(options.jobs.map((job) => [job.name, new CronSchedule(job.cron, job.timezone)]));
    // Firings from now on are this replica's to look at; older ones only through catchUp().
    const now = options.clock.now();
    for (const job of options.jobs) this.#checkedUntil.set(job.name, now);
  }

  /** Catches up on recent missed firings, then lets node-cron wake this replica at each scheduled minute. */
  async start(): Promise<void> {
    await this.catchUp();
    for (const job of this.#o.jobs) {
      const task = createTask(job.cron, () => void this.tick(), {
        timezone: job.timezone,
        name: `runbook-bot:${job.name}`,
        noOverlap: false,
      });
      await task.start();
      this.#tasks.push(task);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const task of this.#tasks) await task.stop();
    await Promise.allSettled([...this.#running]);
  }

  /** At start-up: the newest firing of each job within the catch-up window, if no replica ran it. */
  async catchUp(): Promise<void> {
    const now = this.#o.clock.now();
    const from = new Date(now.getTime() - this.#o.catchUpWithinMs);
    for (const job of this.#o.jobs) {
      const newest = this.#schedules.get(job.name)!.firingsBetween(from, now).at(-1);
      this.#checkedUntil.set(job.name, now);
      if (newest) await this.#fire(job, newest.key, newest.at, now);
    }
  }

  /** Runs every firing due since the last look (node-cron calls this; tests call it with a moved clock). */
  async tick(): Promise<void> {
    if (this.#stopped) return;
    const now = this.#o.clock.now();
    const work: Array<Promise<void>> = [];
    for (const job of this.#o.jobs) {
      const since = this.#checkedUntil.get(job.name)!;
      this.#checkedUntil.set(job.name, now);
      for (const firing of this.#schedules.get(job.name)!.firingsBetween(since, now))
        work.push(this.#fire(job, firing.key, firing.at, now));
    }
    await Promise.all(work);
  }

  async #fire(job: ScheduledJob, key: string, scheduledAt: Date, now: Date): Promise<void> {
    const { store, clock } = this.#o;
    const lateByMs = now.getTime() - scheduledAt.getTime();
    const late = lateByMs > (this.#o.lateAfterMs ?? 5 * 60_000);
    const log = this.#o.logger.child({ job: job.name, firing: key });
    if (!(await claimFiring(store, { job: job.name, key, scheduledAt, replica: this.replica, startedAt: now, late }))) {
      log.debug({ event: 'schedule.taken_by_other_replica' });
      return;
    }
    const running = (async () => {
      const started = clock.now().getTime();
      log.info({ event: 'schedule.started', late, lateBy: late ? formatDuration(lateByMs) : undefined });
      let result: JobOutcome;
      try {
        result = await job.run({ scheduledAt, key, late, log });
      } catch (error) {
        log.error({ event: 'schedule.failed', err: error });
        result = { outcome: 'failed', summary: errorMessage(error) };
      }
      const duration = clock.now().getTime() - started;
      await finishFiring(
        store,
        { job: job.name, key, replica: this.replica },
        result.outcome,
        result.summary,
        clock.now(),
        duration,
      ).catch((error: unknown) => log.error({ event: 'schedule.record_failed', err: error }));
      this.#o.metrics?.taskDuration.observe({ task: job.name, outcome: result.outcome }, duration / 1000);
      log.info({ event: 'schedule.finished', outcome: result.outcome, ms: duration });
    })();
    this.#running.add(running);
    try {
      await running;
    } finally {
      this.#running.delete(running);
    }
  }
}

/** "(ran late: scheduled 06:00, started 08:12)" for posts of caught-up firings. */
export function lateNote(context: JobContext, now: Date, timezone: string): string {
  if (!context.late) return '';
  const time = (at: Date) =>
    new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(at);
  return ` _(ran late: scheduled ${time(context.scheduledAt)}, started ${time(now)}, because no replica was running then)_`;
}
