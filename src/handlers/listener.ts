// What every handler receives, and the wrapper that gives each request a logger, a metric and safe error replies.
import { randomUUID } from 'node:crypto';
import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Clock } from '../clock.ts';
import type { Config, ServiceConfig } from '../config/schema.ts';
import { UserError, NotPermittedError, errorReference } from '../errors.ts';
import type { InFlight } from '../inflight.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { SharedReads } from '../shared-reads.ts';
import type { AuditWriter } from '../store/audit.ts';
import type { Store } from '../store/db.ts';
import type { Permissions } from './authorize.ts';
import type { Confirmations } from './confirm.ts';

export interface HandlerDeps {
  config: Config;
  store: Store;
  slack: WebClient;
  logger: Logger;
  metrics: Metrics;
  inflight: InFlight;
  clock: Clock;
  permissions: Permissions;
  confirmations: Confirmations;
  audit: AuditWriter;
  /** Identical reads (health, privacy budget, rollout history) share one run and a fresh result. */
  reads: SharedReads;
}

export type CommandArgs = SlackCommandMiddlewareArgs & AllMiddlewareArgs;

export interface CommandContext {
  log: Logger;
  /** True once Slack has been answered; errors after that go through respond(). */
  readonly acked: boolean;
}

export type CommandHandler = (args: CommandArgs, context: CommandContext, deps: HandlerDeps) => Promise<void>;

/** Wraps a command handler: child logger, outcome metric, and an ephemeral answer for every error. */
export function commandListener(name: string, deps: HandlerDeps, handler: CommandHandler) {
  return async (args: CommandArgs): Promise<void> => {
    const { command } = args;
    const log = deps.logger.child({
      reqId: randomUUID().slice(0, 8),
      user: command.user_id,
      channel: command.channel_id,
      command: name,
    });
    let acked = false;
    const ack: CommandArgs['ack'] = async (response) => {
      acked = true;
      await args.ack(response);
    };
    const context: CommandContext = {
      log,
      get acked() {
        return acked;
      },
    };
    log.debug({ event: 'command.received', text: command.text });
    let outcome = 'ok';
    try {
      await deps.inflight.track(handler({ ...args, ack }, context, deps));
    } catch (error) {
      outcome = outcomeOf(error);
      const text = replyForError(error, log, name);
      if (!acked) {
        acked = true;
        await args.ack({ response_type: 'ephemeral', text });
      } else {
        await args.respond({ response_type: 'ephemeral', replace_original: false, text }).catch((respondError: unknown) => {
          log.warn({ event: 'command.respond_failed', err: respondError });
        });
      }
    }
    deps.metrics.commands.inc({ command: name, outcome });
    // After Slack has its answer: the audit write never delays the ack.
    await deps.audit
      .append(
        {
          actor: command.user_id,
          action: 'command',
          target: `/${name}`,
          channel: command.channel_id,
          params: { text: command.text },
          result: outcome,
        },
        deps.clock.now(),
      )
      .catch((error: unknown) => log.error({ event: 'audit.append_failed', err: error }));
  };
}

export function outcomeOf(error: unknown): string {
  if (error instanceof NotPermittedError) return 'denied';
  if (error instanceof UserError) return 'user_error';
  return 'error';
}

/** The text a user sees for an error: the message of a UserError, a reference id for anything else. */
export function replyForError(error: unknown, log: Logger, what: string): string {
  if (error instanceof UserError) {
    // Denials are security events; a typo in a command is not worth an info line.
    if (error instanceof NotPermittedError) log.info({ event: `${what}.denied`, code: error.code, reason: error.message });
    else log.debug({ event: `${what}.rejected`, code: error.code, reason: error.message });
    return error.message;
  }
  const ref = errorReference();
  log.error({ event: `${what}.failed`, ref, err: error });
  return `:warning: Something went wrong on our side while handling this (reference \`${ref}\`). Your request may not have completed; the bot's logs have the details under that reference.`;
}

/** The service named in a command, or a UserError listing the ones that exist. */
export function requireService(config: Config, name: string | undefined, usage: string): [string, ServiceConfig] {
  const names = Object.keys(config.file.services);
  if (!name) throw new UserError(`Which service? ${knownServicesSentence(names)}\n${usage}`, 'service_missing');
  const service = config.file.services[name];
  if (!service)
    throw new UserError(
      `I don't know a service called \`${name}\`. ${knownServicesSentence(names)}\n${usage}`,
      'service_unknown',
    );
  return [name, service];
}

export function knownServicesSentence(names: string[]): string {
  if (names.length === 0) return "No services are configured yet: add them under `services:` in the bot's config file.";
  return `Known services: ${names.map((name) => `\`${name}\``).join(', ')}.`;
}
