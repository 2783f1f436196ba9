// The bot's listeners, found by the request's kind and name in one map look-up, as one global Bolt middleware.
//
// Bolt hands every request to every listener registered with app.command/action/view/shortcut, each through a chain
// of matcher middleware of its own (bolt-js src/App.ts, processEvent). With the bot's two dozen listeners that walk was
// the largest part of a request's work before its ack: about 44 KB allocated and a tenth of a millisecond per command
// (bench:ack, heap sampling), for a match that is a string comparison. Here the request middleware has already named
// the request (request-scope.ts), so the listener is one look-up away.
import type {
  AllMiddlewareArgs,
  AnyMiddlewareArgs,
  BlockAction,
  Middleware,
  SlackActionMiddlewareArgs,
  SlackCommandMiddlewareArgs,
  SlackShortcutMiddlewareArgs,
  SlackViewMiddlewareArgs,
  MessageShortcut,
  ViewSubmitAction,
} from '@slack/bolt';
import { RequestScope, type RequestKind } from './request-scope.ts';

type Listener<Args> = (args: Args & AllMiddlewareArgs) => Promise<void>;
type AnyListener = Listener<AnyMiddlewareArgs>;

export class Router {
  readonly #listeners = new Map<string, AnyListener>();

  /** A slash command, as named in the manifest (`/incident`). */
  command(name: string, listener: Listener<SlackCommandMiddlewareArgs>): void {
    this.#add('command', name.replace(/^\//, ''), listener);
  }

  /** A block action, by its action_id. */
  action<Action extends BlockAction>(actionId: string, listener: Listener<SlackActionMiddlewareArgs<Action>>): void {
    this.#add('action', actionId, listener);
  }

  /** A modal's submission, by the view's callback_id. */
  view(callbackId: string, listener: Listener<SlackViewMiddlewareArgs<ViewSubmitAction>>): void {
    this.#add('view', callbackId, listener);
  }

  /** A message shortcut, by its callback_id. */
  shortcut(callbackId: string, listener: Listener<SlackShortcutMiddlewareArgs<MessageShortcut>>): void {
    this.#add('shortcut', callbackId, listener);
  }

  /**
   * Runs after the request middleware: a request with a listener goes to it, and no further down Bolt's chain; one
   * without (an event, a view closed) goes on to Bolt's own listeners, which are none, as before.
   */
  middleware(): Middleware<AnyMiddlewareArgs> {
    return async (args) => {
      const scope: unknown = args.context.request;
      const listener = scope instanceof RequestScope ? this.#listeners.get(routeKey(scope.kind, scope.name)) : undefined;
      if (!listener) return args.next();
      // As Bolt calls a listener: the request's arguments, and a next() that goes nowhere.
      await listener({ ...args, next: async () => undefined });
    };
  }

  #add<Args>(kind: RequestKind, name: string, listener: Listener<Args>): void {
    const key = routeKey(kind, name);
    if (this.#listeners.has(key)) throw new Error(`two listeners for the ${kind} ${name}`);
    this.#listeners.set(key, listener as unknown as AnyListener);
  }
}

function routeKey(kind: RequestKind, name: string): string {
  return `${kind} ${name}`;
}
