// /rollback <service> [deployment] [revision] [--force]: Slack in (parse, authorize, ack, confirm) and out (history, progress, outcome) around the rollback use case.
import { formatDuration } from '../config/duration.ts';
import { ConfigError, ExternalError, UserError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { ageNote } from '../shared-reads.ts';
import { escapeText } from '../slack/escape.ts';
import { revisionHistoryBlocks, rollbackDetails, rolloutOutcomeBlocks, rolloutProgressText } from '../slack/rollback-blocks.ts';
import { addEvent, getIncidentByChannel } from '../store/incidents.ts';
import type { RolloutOutcome } from '../tasks/rollback/status.ts';
import { formatImages } from '../tasks/rollback/template.ts';
import { undoOptions, undoRunSchema, type UndoRun } from '../tasks/rollback/options.ts';
import type { UndoEnv } from '../tasks/rollback/undo.ts';
import { splitWords } from './command-text.ts';
import type { ActionOutcome, ConfirmableAction } from './confirm.ts';
import { requireService, type CommandHandler, type HandlerDeps } from './listener.ts';

export const ROLLBACK_USAGE =
  'Usage: `/rollback <service> [deployment] [revision] [--force]`, e.g. `/rollback rlhf-audit-trail` (to the previous revision) or `/rollback rlhf-audit-trail rlhf-audit-trail 41`.';

export const ROLLBACK_ACTION = 'rollback';

/** The use case, and with it the Kubernetes client library, loads with the first rollback asked for, not at start-up. */
const loadUndo = () => import('../tasks/rollback/undo.ts');

/** The whole action, from confirmation to the rollout's end. */
const ROLLBACK_TIME_LIMIT_MS = 20 * 60_000;
/** How often the channel's status line may change while the rollout runs. */
const PROGRESS_EVERY_MS = 1_000;

/** The confirmation stores the use case's Run struct: the confirmed rollback runs from it alone, on any replica. */
export const rollbackParamsSchema = undoRunSchema;
export type RollbackParams = UndoRun;

export const handleRollbackCommand: CommandHandler = async ({ command, ack, respond }, context, deps) => {
  const words = splitWords(command.text);
  const force = words.includes('--force');
  const args = words.filter((word) => word !== '--force');
  if (args.length === 0 || args[0] === 'help') throw new UserError(ROLLBACK_USAGE, 'usage');
  const [serviceName, service] = requireService(deps.config, args[0], ROLLBACK_USAGE);
  const options = undoOptions(serviceName, service, args.slice(1), ROLLBACK_USAGE, force);
  await context.authorize('rollback', serviceName);
  await ack({
    response_type: 'ephemeral',
    text: `:mag: Reading the revision history of \`${options.namespace}/${options.deployment}\`…`,
  });

  const { completeUndo, validateUndo } = await loadUndo();
  const completed = await kubernetesCall(context.log, () => completeUndo(options, undoEnv(deps)));
  const age = ageNote(completed.historyAgeMs);
  const historyBlocks = [
    ...revisionHistoryBlocks(completed.history, deps.clock.now()),
    ...(age ? [{ type: 'context' as const, elements: [{ type: 'mrkdwn' as const, text: `History ${age}.` }] }] : []),
  ];
  let validated;
  try {
    validated = validateUndo(completed, ROLLBACK_TIME_LIMIT_MS - 60_000);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    await respond({
      response_type: 'ephemeral',
      replace_original: true,
      // The reason quotes the cluster (rollout messages, image names): text, never mentions or links.
      text: escapeText(error.message),
      blocks: [
        ...historyBlocks,
        { type: 'section', text: { type: 'mrkdwn', text: `:no_entry_sign: ${escapeText(error.message)}` } },
      ],
    });
    return;
  }
  const { plan, run: params } = validated;
  const question = await deps.confirmations.request({
    action: ROLLBACK_ACTION,
    service: serviceName,
    params,
    details: rollbackDetails(plan, options.context, params.followForMs),
    requestedBy: command.user_id,
    channelId: command.channel_id,
    responseUrl: command.response_url,
  });
  await respond({
    response_type: 'ephemeral',
    replace_original: true,
    text: question.text,
    blocks: [...historyBlocks, { type: 'divider' }, ...question.blocks],
  });
};

/** The confirmed rollback: kubectl's undo, then kubectl's status until the rollout ends; on the incident's timeline when run in its channel. */
export function rollbackAction(deps: HandlerDeps): ConfirmableAction<RollbackParams> {
  return {
    name: ROLLBACK_ACTION,
    permission: 'rollback',
    timeLimitMs: ROLLBACK_TIME_LIMIT_MS,
    params: rollbackParamsSchema,
    title: (params) => `Roll back ${params.namespace}/${params.deployment} to revision ${params.toRevision}`,
    async run(params, run) {
      const { store, clock } = deps;
      const where = `${params.namespace}/${params.deployment}`;
      const change = `revision ${params.fromRevision ?? '?'} → ${params.toRevision} (\`${formatImages(params.fromImages)}\` → \`${formatImages(params.toImages)}\`)`;
      const incident = run.confirmation.channel_id ? await getIncidentByChannel(store, run.confirmation.channel_id) : undefined;
      const timeline = async (kind: string, text: string, data: Record<string, unknown>) => {
        if (!incident) return;
        await addEvent(store, incident.id, clock.now(), kind, run.actor, text, { deployment: where, ...data }).catch(
          (error: unknown) => run.log.warn({ event: 'rollback.timeline_failed', err: error }),
        );
      };

      await run.progress(`restoring revision ${params.toRevision} of \`${where}\`…`);
      let outcome: RolloutOutcome;
      try {
        let lastProgress = 0;
        const { runUndo } = await loadUndo();
        const done = await runUndo(params, undoEnv(deps), {
          signal: run.signal,
          onPatched: async () => {
            run.log.info({ event: 'rollback.patched', deployment: where, from: params.fromRevision, to: params.toRevision });
            await timeline('rollback', `Rolled back \`${where}\`: ${change}`, {
              from: params.fromRevision,
              to: params.toRevision,
            });
          },
          onProgress: async (status) => {
            const now = clock.now().getTime();
            if (now - lastProgress < PROGRESS_EVERY_MS) return;
            lastProgress = now;
            await run.progress(rolloutProgressText(status));
          },
        });
        outcome = done.rollout!;
      } catch (error) {
        await timeline(
          'rollback_failed',
          `Rollback of \`${where}\` to revision ${params.toRevision} failed: ${errorMessage(error)}`,
          {},
        );
        throw error;
      }
      const text = outcomeText(outcome, params);
      run.log.info({ event: 'rollback.finished', deployment: where, result: outcome.result, reconnects: outcome.reconnects });
      await timeline(outcome.result === 'success' ? 'rollback_completed' : 'rollback_failed', `\`${where}\`: ${text}`, {
        result: outcome.result,
      });
      const result: ActionOutcome = { ok: outcome.result === 'success', text, blocks: rolloutOutcomeBlocks(outcome) };
      return result;
    },
  };
}

function outcomeText(outcome: RolloutOutcome, params: RollbackParams): string {
  const back = `rolled back to revision ${params.toRevision} (\`${formatImages(params.toImages)}\`)`;
  switch (outcome.result) {
    case 'success':
      return `${back}; ${outcome.message}`;
    case 'failure':
      return `${back}, but the rollout failed: ${outcome.message}`;
    case 'timeout':
      return `${back}, but it was still rolling out after ${formatDuration(params.followForMs)}: ${outcome.status?.message ?? 'no status seen'}`;
    case 'interrupted':
      return `${back}; stopped following the rollout before it finished (${outcome.status?.message ?? 'no status seen'})`;
    case 'unreachable':
      return `${back}, but Kubernetes stopped answering while the rollout was followed: ${outcome.message}`;
  }
}

function undoEnv(deps: Pick<HandlerDeps, 'config' | 'clock' | 'reads'>): UndoEnv {
  return {
    kubernetes: async (context) => (await import('../clients/kubernetes.ts')).createKubernetesClients(deps.config, { context }),
    clock: deps.clock,
    reads: deps.reads,
  };
}

/** Kubernetes refusing or unreachable is worth telling the user in its own words; it is not a bug of ours. */
async function kubernetesCall<T>(log: Logger, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ExternalError || error instanceof ConfigError) {
      log.warn({ event: 'rollback.kubernetes_failed', code: error.code, err: error });
      throw new UserError(`:x: ${escapeText(error.message)}`, error.code);
    }
    throw error;
  }
}
