// /health [service|all]: validate, authorize, ack at once (with the answer when every service was checked a moment ago), run every check concurrently, post the summary.
import type { Clock } from '../clock.ts';
import { slackErrorCode } from '../clients/slack.ts';
import type { Config } from '../config/schema.ts';
import { UserError } from '../errors.ts';
import { ageNote, type SharedReads } from '../shared-reads.ts';
import { healthMessage, incidentHealthMessage as incidentMessage, type HealthMessage } from '../slack/health-blocks.ts';
import { worstStatus } from '../tasks/health/check.ts';
import {
  announceHealthRun,
  freshHealthReport,
  healthAlreadyShared,
  healthRunOptions,
  healthTargets,
  runHealthChecks,
  type FreshHealth,
  type HealthReport,
  type ServiceHealth,
} from '../tasks/health/run.ts';
import { splitWords } from './command-text.ts';
import { requireService, type CommandArgs, type CommandHandler, type HandlerDeps } from './listener.ts';

export const HEALTH_USAGE =
  'Usage: `/health [service|all] [--details]`, e.g. `/health rlhf-audit-trail`, `/health all`, or `/health regulensai --details` for a table of the objects that are not ok.';

/** Runs the health checks of one service or all of them, with the bot's secrets and Kubernetes access, sharing recent runs. */
export async function checkHealth(config: Config, clock: Clock, reads: SharedReads, target: string): Promise<HealthReport> {
  const { services, unchecked } = healthTargets(config, target);
  return runHealthChecks(services, { ...healthRunOptions(config, clock), shared: reads }, unchecked);
}

/** The incident channel's health check of the affected service (IncidentHealthCheck). */
export async function incidentHealthMessage(
  config: Config,
  clock: Clock,
  reads: SharedReads,
  service: string,
): Promise<HealthMessage> {
  return incidentMessage(await checkHealth(config, clock, reads, service), service);
}

export const handleHealthCommand: CommandHandler = async ({ command, ack, respond, client }, context, deps) => {
  const all = splitWords(command.text);
  const details = all.includes('--details');
  const words = all.filter((word) => word !== '--details');
  if (words.length > 1 || words[0] === 'help' || words.some((word) => word.startsWith('--')))
    throw new UserError(HEALTH_USAGE, 'usage');
  const target = words[0] ?? 'all';
  if (target !== 'all') requireService(deps.config, target, HEALTH_USAGE);
  await context.authorize('health', target === 'all' ? undefined : target);
  const { services, unchecked } = healthTargets(deps.config, target);
  if (services.length === 0)
    throw new UserError(
      'No service has health checks configured yet (`services.<name>.health` in the config file).',
      'no_checks',
    );
  const title = target === 'all' ? 'Health of all services' : `Health of ${target}`;
  // Every service was checked a moment ago: the answer is the ack itself (with each result's age), at once and with
  // no work after it.
  const fresh = freshHealthReport(services, deps.reads, deps.clock, unchecked);
  if (fresh) {
    const message = freshMessage(deps.reads, fresh, title, details);
    await context.answer({ response_type: 'in_channel', text: message.text, blocks: message.blocks });
    if (deps.logger.isLevelEnabled('debug'))
      context.log.debug({ event: 'health.reused', target, status: worstStatus(fresh.kept.map((result) => result.status)) });
    return;
  }
  // Checks already running (or just run) for someone else are joined, not run again: such a request waits for their
  // result and needs no place in the line of health work, so a crowd typing the same command is never turned away.
  // The first of a crowd announces its run, so those right behind it join it too.
  if (healthAlreadyShared(services, deps.reads)) context.runsAtOnce();
  else announceHealthRun(services, deps.reads);
  await ack({
    response_type: 'ephemeral',
    text: `:hourglass_flowing_sand: Checking ${target === 'all' ? `${services.length} service${services.length === 1 ? '' : 's'}` : `\`${target}\``}…`,
  });

  // The requests for the same target while its checks run get one report, and one rendering of it: when a crowd's
  // answers go out together, the work for each is its post alone.
  const { value: answer, source } = await deps.reads.read(
    `health-answer:${target}`,
    async () => new HealthAnswer(await checkHealth(deps.config, deps.clock, deps.reads, target), title),
    { inFlightOnly: true },
  );
  const { report } = answer;
  // Counted and logged once per run of the checks, by the request that ran them.
  if (source === 'ran') deps.metrics.taskDuration.observe({ task: 'health', outcome: report.status }, report.durationMs / 1000);
  const checked = {
    event: 'health.checked',
    target,
    status: report.status,
    checks: report.services.reduce((sum, service) => sum + service.checks.length, 0),
    ms: Math.round(report.durationMs),
  };
  if (source === 'ran') context.log.info(checked);
  else if (deps.logger.isLevelEnabled('debug')) context.log.debug({ ...checked, joined: true });
  await postResult({ command, respond, client }, answer.message(details), context.log, deps);
};

/** The last answer made from kept results, per title: served again while it would read the same, word for word. */
interface FreshRendering {
  kept: readonly ServiceHealth[];
  unchecked: readonly string[];
  ages: Array<string | undefined>;
  message: HealthMessage;
}
const freshRenderings = new WeakMap<SharedReads, Map<string, FreshRendering>>();

/**
 * The message for a report of kept results. A crowd asking within the same second gets one rendering: the message
 * changes only with the results themselves, their ages as shown ("checked 4s ago") and the services left unchecked
 * (another list after a config reload). With `--details`, whose
 * table gives each object's age at the time of asking, it is rendered every time.
 */
function freshMessage(reads: SharedReads, fresh: FreshHealth, title: string, details: boolean): HealthMessage {
  if (details) return healthMessage(fresh.report(), title, { details });
  const ages = fresh.agesMs.map(ageNote);
  let renderings = freshRenderings.get(reads);
  if (!renderings) freshRenderings.set(reads, (renderings = new Map()));
  const last = renderings.get(title);
  if (
    last?.unchecked === fresh.unchecked &&
    last.kept.length === fresh.kept.length &&
    last.kept.every((result, index) => result === fresh.kept[index] && last.ages[index] === ages[index])
  )
    return last.message;
  const message = healthMessage(fresh.report(), title);
  renderings.set(title, { kept: fresh.kept, unchecked: fresh.unchecked, ages, message });
  return message;
}

/** A report and its messages (with and without details), each rendered when first asked for. */
class HealthAnswer {
  readonly report: HealthReport;
  readonly #title: string;
  readonly #rendered = new Map<boolean, HealthMessage>();
  constructor(report: HealthReport, title: string) {
    this.report = report;
    this.#title = title;
  }

  message(details: boolean): HealthMessage {
    let message = this.#rendered.get(details);
    if (!message) this.#rendered.set(details, (message = healthMessage(this.report, this.#title, { details })));
    return message;
  }
}

/** Into the channel where the command was typed: the response URL first (works without joining), else chat.postMessage. */
export async function postResult(
  { command, respond, client }: Pick<CommandArgs, 'command' | 'respond' | 'client'>,
  message: HealthMessage,
  log: HandlerDeps['logger'],
  deps: Pick<HandlerDeps, 'slack'>,
): Promise<void> {
  try {
    await respond({ response_type: 'in_channel', replace_original: false, text: message.text, blocks: message.blocks });
  } catch (error) {
    log.warn({ event: 'command.respond_failed', code: slackErrorCode(error) });
    await (client ?? deps.slack).chat.postMessage({ channel: command.channel_id, text: message.text, blocks: message.blocks });
  }
}
