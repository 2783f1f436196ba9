// The confirmation flow for everything that changes something: ask, check who clicks, claim once, run, report.
import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { KnownBlock } from '@slack/types';
import type { z } from 'zod';
import { raceAbort } from '../abort.ts';
import { slackErrorCode } from '../clients/slack.ts';
import type { PermissionAction } from '../config/schema.ts';
import { formatDuration } from '../config/duration.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import {
  confirmationDecidedBlocks,
  confirmationRequestBlocks,
  confirmersText,
  formatClock,
} from '../slack/confirmation-blocks.ts';
import { escapeText } from '../slack/escape.ts';
import type { AuditEntry } from '../store/audit.ts';
import {
  claimConfirmation,
  createConfirmation,
  expireConfirmation,
  finishConfirmation,
  getConfirmation,
  type Confirmation,
} from '../store/confirmations.ts';
import type { SharedDeps } from './deps.ts';
import { scopeOf } from './request-scope.ts';

export interface ActionRun {
  log: Logger;
  /** Aborted when the action's time limit passes or the bot shuts down. */
  signal: AbortSignal;
  confirmation: Confirmation;
  /** The user who confirmed. */
  actor: string;
  /** Replaces the channel status line (callers throttle; Slack allows about one update per second). */
  progress(text: string): Promise<void>;
}

export interface ActionOutcome {
  ok: boolean;
  /** One line for the status message and the audit log. */
  text: string;
  blocks?: KnownBlock[];
}

export interface ConfirmableAction<P = unknown> {
  name: string;
  /** Who, besides the requester, may confirm. */
  permission: PermissionAction;
  timeLimitMs: number;
  /** Parameters are stored with the confirmation and parsed again when it is confirmed. */
  params: z.ZodType<P>;
  title(params: P, service: string | null): string;
  run(params: P, run: ActionRun): Promise<ActionOutcome>;
}

export interface ConfirmationRequest {
  action: string;
  service?: string | undefined;
  params: Record<string, unknown>;
  /** Exactly what will run: target, namespace, revision, bucket, key. */
  details: string[];
  requestedBy: string;
  channelId?: string | undefined;
  responseUrl?: string | undefined;
}

type ButtonArgs = SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs;

export type ConfirmationsDeps = SharedDeps;

export class Confirmations {
  readonly #deps: ConfirmationsDeps;
  readonly #actions = new Map<string, ConfirmableAction<never>>();
  readonly #shutdown = new AbortController();

  constructor(deps: ConfirmationsDeps) {
    this.#deps = deps;
  }

  register<P>(action: ConfirmableAction<P>): void {
    this.#actions.set(action.name, action as unknown as ConfirmableAction<never>);
  }

  /** Aborts running actions (SIGTERM); they report themselves as interrupted. */
  abortRunning(): void {
    this.#shutdown.abort(new Error('the bot is shutting down'));
  }

  /** Stores a pending confirmation and returns the ephemeral message that asks for it. */
  async request(input: ConfirmationRequest): Promise<{ text: string; blocks: KnownBlock[] }> {
    const action = this.#action(input.action);
    const { config, store, clock } = this.#deps;
    const now = clock.now();
    const approvers = this.#deps.permissions.ruleFor(action.permission, input.service) ?? [];
    const secondPerson = this.#requiresSecondPerson(action);
    const title = action.title(action.params.parse(input.params), input.service ?? null);
    const summary = [title, ...input.details].join('\n');
    const confirmation = await createConfirmation(store, {
      action: input.action,
      service: input.service,
      params: input.params,
      summary,
      requestedBy: input.requestedBy,
      approvers,
      channelId: input.channelId,
      responseUrl: input.responseUrl,
      now,
      expiresAt: new Date(now.getTime() + config.file.confirmations.expiresAfter),
    });
    await this.#audit({
      actor: input.requestedBy,
      action: 'confirmation.requested',
      target: input.service,
      channel: input.channelId,
      params: { confirmation: confirmation.id, action: input.action, ...input.params },
      result: 'pending',
    });
    return {
      text: `${escapeText(title)}: confirm or cancel`,
      blocks: confirmationRequestBlocks({
        id: confirmation.id,
        title,
        details: input.details,
        requestedBy: input.requestedBy,
        approvers,
        requesterMayConfirm: !secondPerson,
        expiresAt: confirmation.expires_at,
        timezone: config.timezone,
      }),
    };
  }

  /** Bolt listener for the Confirm and Cancel buttons; logging, errors and the audit row are the request middleware's. */
  readonly onButton = async (args: ButtonArgs): Promise<void> => {
    const scope = scopeOf(args.context);
    await scope.ack();
    const decision = args.action.action_id.endsWith(':confirm') ? 'confirmed' : 'cancelled';
    await this.#decide(args, decision, scope.user, scope.log);
  };

  async #decide(args: ButtonArgs, decision: 'confirmed' | 'cancelled', userId: string, log: Logger): Promise<void> {
    const { store, clock, config } = this.#deps;
    const id = args.action.value ?? '';
    const confirmation = await getConfirmation(store, id);
    if (!confirmation) {
      await args.respond({
        response_type: 'ephemeral',
        replace_original: false,
        text: 'This confirmation no longer exists. Run the command again.',
      });
      return;
    }
    const action = this.#action(confirmation.action);
    // The title is the action's words (it names a service or deployment); the details are mrkdwn its builder escaped.
    const title = escapeText(confirmation.summary.split('\n')[0]!);
    const details = confirmation.summary.split('\n').slice(1);

    const refusal = await this.#refusal(action, confirmation, userId, decision);
    if (refusal) {
      await this.#audit({
        actor: userId,
        action: 'denied',
        target: confirmation.service,
        channel: confirmation.channel_id,
        params: { confirmation: id, decision },
        result: refusal.result,
      });
      log.info({ event: refusal.event, confirmation: id });
      await args.respond({ response_type: 'ephemeral', replace_original: false, text: refusal.text });
      return;
    }

    const now = clock.now();
    const claimed = await claimConfirmation(store, id, decision, userId, now);
    if (!claimed) {
      await this.#explainLostClaim(args, id, title, details, now, log);
      return;
    }
    if (decision === 'cancelled') {
      await this.#audit({
        actor: userId,
        action: 'confirmation.cancelled',
        target: claimed.service,
        channel: claimed.channel_id,
        params: { confirmation: id, action: claimed.action },
        result: 'cancelled',
      });
      await args.respond({
        replace_original: true,
        text: `Cancelled: ${title}`,
        blocks: confirmationDecidedBlocks(
          title,
          details,
          `:x: Cancelled by <@${userId}> ${formatClock(now, config.timezone)}. Nothing was changed.`,
        ),
      });
      return;
    }
    await this.#audit({
      actor: userId,
      action: 'confirmation.confirmed',
      target: claimed.service,
      channel: claimed.channel_id,
      params: { confirmation: id, action: claimed.action, ...claimed.params },
      result: 'running',
    });
    await args.respond({
      replace_original: true,
      text: `Confirmed: ${title}`,
      blocks: confirmationDecidedBlocks(
        title,
        details,
        `:white_check_mark: Confirmed by <@${userId}> ${formatClock(now, config.timezone)}. Running now; progress is posted in this channel.`,
      ),
    });
    this.#deps.inflight.run(() => this.#runConfirmed(action, claimed, userId, title, args, log));
  }

  async #explainLostClaim(args: ButtonArgs, id: string, title: string, details: string[], now: Date, log: Logger): Promise<void> {
    const { store, config } = this.#deps;
    if (await expireConfirmation(store, id, now)) {
      const current = (await getConfirmation(store, id))!;
      await this.#audit({
        actor: 'system',
        action: 'confirmation.expired',
        target: current.service,
        channel: current.channel_id,
        params: { confirmation: id },
        result: 'expired',
      });
    }
    const current = (await getConfirmation(store, id))!;
    log.info({ event: 'confirmation.not_claimed', confirmation: id, state: current.state });
    if (current.state === 'expired') {
      await args.respond({
        replace_original: true,
        text: `Expired: ${title}`,
        blocks: confirmationDecidedBlocks(
          title,
          details,
          `:hourglass: This confirmation expired ${formatClock(current.expires_at, config.timezone)}. Nothing was changed; run the command again.`,
        ),
      });
      return;
    }
    const when = current.decided_at ? ` ${formatClock(current.decided_at, config.timezone)}` : '';
    await args.respond({
      response_type: 'ephemeral',
      replace_original: false,
      text: `This was already ${current.state} by <@${current.decided_by}>${when}; it runs only once.`,
    });
  }

  async #runConfirmed(
    action: ConfirmableAction<never>,
    confirmation: Confirmation,
    actor: string,
    title: string,
    args: ButtonArgs,
    log: Logger,
  ): Promise<void> {
    const { slack, clock, store, metrics } = this.#deps;
    const started = clock.now();
    const status = await this.#postStatus(
      confirmation,
      `:hourglass_flowing_sand: <@${actor}> confirmed *${title}*: running…`,
      log,
    );
    const limit = new AbortController();
    const signal = AbortSignal.any([limit.signal, this.#shutdown.signal]);
    const timer = setTimeout(
      () => limit.abort(new Error(`time limit of ${formatDuration(action.timeLimitMs)} reached`)),
      action.timeLimitMs,
    );
    let outcome: ActionOutcome;
    let label: string;
    try {
      const params = action.params.parse(confirmation.params);
      const running = action.run(params, {
        log: log.child({ action: action.name, confirmation: confirmation.id }),
        signal,
        confirmation,
        actor,
        progress: async (text) => {
          if (status)
            await slack.chat
              .update({
                channel: status.channel,
                ts: status.ts,
                text: `:hourglass_flowing_sand: *${title}*: ${escapeText(text)}`,
              })
              .catch((error: unknown) => log.warn({ event: 'confirmation.progress_failed', code: slackErrorCode(error) }));
        },
      });
      outcome = await raceAbort(running, signal);
      label = outcome.ok ? 'ok' : 'failed';
    } catch (error) {
      const interrupted = signal.aborted;
      label = interrupted ? (limit.signal.aborted ? 'timeout' : 'interrupted') : 'failed';
      const why = interrupted ? errorMessage(signal.reason) : errorMessage(error);
      outcome = { ok: false, text: interrupted ? `did not finish: ${why}` : `failed: ${why}` };
      if (!interrupted) log.error({ event: 'confirmation.action_failed', err: error });
    } finally {
      clearTimeout(timer);
    }
    const elapsed = formatDuration(clock.now().getTime() - started.getTime());
    metrics.taskDuration.observe({ task: action.name, outcome: label }, (clock.now().getTime() - started.getTime()) / 1000);
    await finishConfirmation(store, confirmation.id, label, outcome.text, clock.now());
    await this.#audit({
      actor,
      action: 'task.outcome',
      target: confirmation.service,
      channel: confirmation.channel_id,
      params: { confirmation: confirmation.id, action: action.name },
      result: `${label}: ${outcome.text}`,
    });
    const icon = outcome.ok ? ':white_check_mark:' : label === 'timeout' ? ':alarm_clock:' : ':x:';
    // The outcome's line quotes what the service or the cluster answered: text, never mentions or links.
    const text = `${icon} *${title}* ${outcome.ok ? 'finished' : label === 'timeout' ? 'timed out' : 'failed'} after ${elapsed} (confirmed by <@${actor}>): ${escapeText(outcome.text)}`;
    const blocks: KnownBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text } }, ...(outcome.blocks ?? [])];
    if (status) {
      await slack.chat
        .update({ channel: status.channel, ts: status.ts, text, blocks })
        .catch((error: unknown) => log.warn({ event: 'confirmation.report_failed', code: slackErrorCode(error) }));
    } else {
      await args.respond({ response_type: 'ephemeral', replace_original: false, text, blocks }).catch(() => undefined);
    }
  }

  /** A channel message everyone can follow; undefined when the bot cannot post there (then the requester is answered privately). */
  async #postStatus(confirmation: Confirmation, text: string, log: Logger): Promise<{ channel: string; ts: string } | undefined> {
    if (!confirmation.channel_id) return undefined;
    try {
      const posted = await this.#deps.slack.chat.postMessage({ channel: confirmation.channel_id, text });
      return posted.ts && posted.channel ? { channel: posted.channel, ts: posted.ts } : undefined;
    } catch (error) {
      log.warn({ event: 'confirmation.status_post_failed', code: slackErrorCode(error) });
      return undefined;
    }
  }

  /** Why this user may not make this decision (audit result, log event, reply), or undefined when they may. */
  async #refusal(
    action: ConfirmableAction<never>,
    confirmation: Confirmation,
    userId: string,
    decision: 'confirmed' | 'cancelled',
  ): Promise<{ result: string; event: string; text: string } | undefined> {
    const requester = confirmation.requested_by;
    // Four-eyes (confirmations.requireSecondPerson): whoever asked may still cancel, never confirm.
    const secondPerson = decision === 'confirmed' && this.#requiresSecondPerson(action);
    const others = confirmation.approvers.filter((principal) => principal !== requester);
    if (userId !== requester && !(await this.#deps.permissions.isAnyOf(userId, confirmation.approvers))) {
      const who = secondPerson ? others : [requester, ...confirmation.approvers];
      return {
        result: 'not requester or approver',
        event: 'confirmation.denied',
        text: `:no_entry: Only ${confirmersText(who)} can ${decision === 'confirmed' ? 'confirm' : 'cancel'} this.`,
      };
    }
    if (!secondPerson || userId !== requester) return undefined;
    return {
      result: 'requester may not confirm their own request (four-eyes)',
      event: 'confirmation.denied_own',
      text:
        others.length > 0
          ? `:no_entry: You asked for this, so someone else must confirm it (four-eyes for ${action.permission}): ${confirmersText(others)}.`
          : `:no_entry: You asked for this, so someone else must confirm it (four-eyes for ${action.permission}), and \`permissions.${action.permission}\` lists nobody else: ask an admin to add someone.`,
    };
  }

  #requiresSecondPerson(action: ConfirmableAction<never>): boolean {
    const rules: Partial<Record<string, boolean>> = this.#deps.config.file.confirmations.requireSecondPerson;
    return rules[action.permission] === true;
  }

  #action(name: string): ConfirmableAction<never> {
    const action = this.#actions.get(name);
    if (!action) throw new Error(`no confirmable action named "${name}" is registered`);
    return action;
  }

  #audit(entry: AuditEntry) {
    return this.#deps.audit.append(entry, this.#deps.clock.now());
  }
}
