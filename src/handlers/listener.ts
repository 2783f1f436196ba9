// What every handler receives, the slash command listener, and how errors are put to the user.
import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import type { Config, ServiceConfig } from '../config/schema.ts';
import { UserError } from '../errors.ts';
import { escapeText } from '../slack/escape.ts';
import type { Confirmations } from './confirm.ts';
import type { SharedDeps } from './deps.ts';
import { scopeOf, type RequestScope } from './request-scope.ts';

export interface HandlerDeps extends SharedDeps {
  confirmations: Confirmations;
}

export type CommandArgs = SlackCommandMiddlewareArgs & AllMiddlewareArgs;

/** What a handler knows about its request: the scope the request middleware gave it (logger, ack state, queue). */
export type CommandContext = RequestScope;

export type CommandHandler = (args: CommandArgs, context: CommandContext, deps: HandlerDeps) => Promise<void>;

/**
 * A slash command's listener: the handler gets the request's scope, and acks through it. Everything every request
 * needs (logger, metric, error reply, audit row) is the request middleware's (request-scope.ts), not the listener's.
 */
export function commandListener(deps: HandlerDeps, handler: CommandHandler) {
  return async (args: CommandArgs): Promise<void> => {
    const scope = scopeOf(args.context);
    await handler({ ...args, ack: scope.ack as CommandArgs['ack'] }, scope, deps);
  };
}

/** The service named in a command, or a UserError listing the ones that exist. */
export function requireService(config: Config, name: string | undefined, usage: string): [string, ServiceConfig] {
  const names = Object.keys(config.file.services);
  if (!name) throw new UserError(`Which service? ${knownServicesSentence(names)}\n${usage}`, 'service_missing');
  const service = config.file.services[name];
  if (!service)
    throw new UserError(
      `I don't know a service called \`${escapeText(name)}\`. ${knownServicesSentence(names)}\n${usage}`,
      'service_unknown',
    );
  return [name, service];
}

export function knownServicesSentence(names: string[]): string {
  if (names.length === 0) return "No services are configured yet: add them under `services:` in the bot's config file.";
  return `Known services: ${names.map((name) => `\`${name}\``).join(', ')}.`;
}
