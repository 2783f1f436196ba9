// /privacy-budget [service] reads and grades the budget; /privacy-budget reset <service> asks for a confirmation first.
import { z } from 'zod';
import type { Clock } from '../clock.ts';
import type { Config } from '../config/schema.ts';
import { UserError, errorReference } from '../errors.ts';
import { privacyBudgetMessage } from '../slack/privacy-budget-blocks.ts';
import type { SharedReads } from '../shared-reads.ts';
import type { Queryable } from '../store/db.ts';
import {
  budgetSummaryLine,
  privacyBudgetTargets,
  readPrivacyBudgets,
  resetNotConfigured,
  resetPrivacyBudget,
} from '../tasks/privacy-budget.ts';
import { splitWords } from './command-text.ts';
import type { ConfirmableAction } from './confirm.ts';
import { postResult } from './health.ts';
import type { CommandHandler } from './listener.ts';

export const PRIVACY_BUDGET_USAGE =
  'Usage: `/privacy-budget [service]` to see the budget, `/privacy-budget reset <service>` to reset it.';
export const PRIVACY_RESET_ACTION = 'privacy-reset';

export interface PrivacyBudgetDepsOf {
  config: Config;
  store: Queryable;
  clock: Clock;
  reads?: SharedReads | undefined;
}

export const handlePrivacyBudgetCommand: CommandHandler = async ({ command, ack, respond, client }, context, deps) => {
  const words = splitWords(command.text);
  if (words[0] === 'help' || words.length > 2 || (words.length === 2 && words[0] !== 'reset')) {
    throw new UserError(PRIVACY_BUDGET_USAGE, 'usage');
  }
  if (words[0] === 'reset') {
    const name = words[1];
    if (!name) throw new UserError(`Which service's budget should be reset?\n${PRIVACY_BUDGET_USAGE}`, 'service_missing');
    const [target] = privacyBudgetTargets(deps.config, name);
    await context.authorize('privacyReset', name);
    const resetUrl = target!.budget.resetUrl;
    if (!resetUrl) throw new UserError(resetNotConfigured(name), 'reset_not_configured');
    // The confirmation is stored (and audited) after the ack; its question then takes the ack's place.
    await ack({
      response_type: 'ephemeral',
      text: `:hourglass_flowing_sand: Preparing the confirmation to reset the privacy budget of \`${name}\`…`,
    });
    const question = await deps.confirmations.request({
      action: PRIVACY_RESET_ACTION,
      service: name,
      params: { service: name },
      details: [
        `POST \`${resetUrl}\` (the privacy budget reset endpoint of \`${name}\`)`,
        'Consumed epsilon starts again from zero, as the service defines its reset',
        'The budget is read again afterwards; earlier snapshots are kept, so the history shows the reset',
      ],
      requestedBy: command.user_id,
      channelId: command.channel_id,
      responseUrl: command.response_url,
    });
    await respond({ response_type: 'ephemeral', replace_original: true, ...question });
    return;
  }

  const targets = privacyBudgetTargets(deps.config, words[0]);
  await ack({
    response_type: 'ephemeral',
    text: `:hourglass_flowing_sand: Reading the privacy budget of ${targets.map((t) => `\`${t.name}\``).join(', ')}…`,
  });
  const { readings, failures } = await readPrivacyBudgets(targets, {
    store: deps.store,
    clock: deps.clock,
    env: process.env,
    httpTimeoutMs: deps.config.file.timeouts.http,
    shared: deps.reads,
  });
  for (const failure of failures) {
    if (!failure.unexpected) continue;
    const ref = errorReference();
    context.log.error({ event: 'privacy_budget.failed', ref, service: failure.service, err: failure.unexpected });
    failure.message = `something went wrong on our side (reference \`${ref}\`)`;
  }
  context.log.info({
    event: 'privacy_budget.read',
    readings: readings.map((reading) => ({ service: reading.service, status: reading.status, usedPercent: reading.usedPercent })),
    failures: failures.length,
  });
  await postResult({ command, respond, client }, privacyBudgetMessage(readings, failures), context.log, deps);
};

/** The confirmed reset: POST to the configured reset URL, then read and snapshot the budget again. */
export function privacyResetAction(
  deps: PrivacyBudgetDepsOf,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ConfirmableAction<{ service: string }> {
  return {
    name: PRIVACY_RESET_ACTION,
    permission: 'privacyReset',
    timeLimitMs: 60_000,
    params: z.object({ service: z.string() }),
    title: (params) => `Reset the privacy budget of ${params.service}`,
    async run(params, run) {
      const [target] = privacyBudgetTargets(deps.config, params.service);
      await run.progress(`resetting through ${target!.budget.resetUrl ?? 'no reset URL'}…`);
      const reading = await resetPrivacyBudget(target!, {
        store: deps.store,
        clock: deps.clock,
        env,
        httpTimeoutMs: deps.config.file.timeouts.http,
        signal: run.signal,
        shared: deps.reads,
      });
      run.log.info({ event: 'privacy_budget.reset', service: params.service, consumed: reading.consumed });
      const { blocks } = privacyBudgetMessage([reading], [], `Privacy budget of ${params.service} after the reset`);
      return { ok: true, text: `budget reset; now ${budgetSummaryLine(reading)}`, blocks };
    },
  };
}
