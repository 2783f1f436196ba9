// The scheduled jobs of the config (daily health, backups, privacy budget, weekly report, monthly restore test).
import type { GatedWebClient } from '../clients/slack.ts';
import type { SlackOutbox } from '../clients/slack-outbox.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { reportChart, reportMessage } from '../slack/report-blocks.ts';
import type { Store } from '../store/db.ts';
import { buildOperationsReport } from '../tasks/report.ts';
import { postToChannel, type SlackPost } from './post.ts';
import { lateNote, type JobContext, type JobOutcome, type ScheduledJob } from './scheduler.ts';

export type ScheduleName =
  'dailyHealth' | 'healthWatch' | 'dailyBackup' | 'privacyBudget' | 'weeklyReport' | 'monthlyRestoreTest' | 'auditCheckpoint';

/** What a job produced: its outcome for the record, and what to post. */
export interface JobResult extends JobOutcome {
  /** Nothing to post (the health watch only records). */
  post?: SlackPost;
}

/** The work behind each schedule; one that is missing is not scheduled (the log says so). */
export type JobWork = Partial<Record<ScheduleName, (context: JobContext) => Promise<JobResult>>>;

export interface JobDeps {
  config: Config;
  store: Store;
  slack: GatedWebClient;
  outbox: SlackOutbox;
  clock: Clock;
  logger: Logger;
}

/** The weekly report, also behind `/incident report`. */
export async function operationsReportPost(
  deps: Pick<JobDeps, 'store' | 'config' | 'clock'>,
  days: number,
  title: string,
): Promise<JobResult> {
  const to = deps.clock.now();
  const from = new Date(to.getTime() - days * 86_400_000);
  const report = await buildOperationsReport(deps.store, { from, to }, deps.config.timezone);
  const message = reportMessage(report, title, deps.config.timezone);
  const summary = `${report.incidents.total} incidents, ${report.jobs.reduce((sum, job) => sum + job.failed, 0)} failed scheduled runs`;
  // The numbers stand on their own: a chart that cannot be drawn leaves the report without it, and the run says why.
  const chart = await reportChart(report).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
  if (chart instanceof Error) return { outcome: 'ok', summary: `${summary}; chart not drawn: ${chart.message}`, post: message };
  return {
    outcome: 'ok',
    summary,
    post: {
      ...message,
      image: { bytes: chart, filename: `incidents-${days}d.png`, title: `Incidents per day, last ${days} days` },
    },
  };
}

export function buildJobs(deps: JobDeps, work: JobWork): ScheduledJob[] {
  const { config } = deps;
  const all: JobWork = {
    weeklyReport: () => operationsReportPost(deps, 7, 'Weekly operations report'),
    ...work,
  };
  const jobs: ScheduledJob[] = [];
  for (const name of [
    'dailyHealth',
    'healthWatch',
    'dailyBackup',
    'privacyBudget',
    'weeklyReport',
    'monthlyRestoreTest',
    'auditCheckpoint',
  ] as const) {
    const schedule = config.file.schedules[name];
    if (!schedule.enabled) continue;
    const run = all[name];
    if (!run) {
      deps.logger.info({
        event: 'schedule.not_available',
        job: name,
        message: 'the task behind this schedule is not available in this version',
      });
      continue;
    }
    const timezone = schedule.timezone ?? config.timezone;
    const channel = schedule.channel ?? config.file.channels.summaries;
    jobs.push({
      name,
      cron: schedule.cron,
      timezone,
      async run(context) {
        const result = await run(context);
        const { post } = result;
        if (post) {
          const note = lateNote(context, deps.clock.now(), timezone);
          const blocks =
            note && post.blocks
              ? [...post.blocks, { type: 'context' as const, elements: [{ type: 'mrkdwn' as const, text: note.trim() }] }]
              : post.blocks;
          await postToChannel(
            deps.slack,
            deps.outbox,
            channel,
            { ...post, text: `${post.text}${note}`, ...(blocks ? { blocks } : {}) },
            `schedule:${name}:${context.key}`,
            context.log,
          );
        }
        return { outcome: result.outcome, summary: result.summary };
      },
    });
  }
  return jobs;
}
