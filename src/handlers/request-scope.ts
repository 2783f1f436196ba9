// One way through every Slack request, as Bolt middleware: a child logger, the queue after the ack, permission checks that never hold the ack, the outcome metric, a safe error reply and one audit row.
import { randomBytes } from 'node:crypto';
import type { AnyMiddlewareArgs, Context, Middleware, RespondFn } from '@slack/bolt';
import type { PermissionAction } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { Slot } from '../work-queue.ts';
import { NotPermittedError, UserError, errorReference } from '../errors.ts';
import type { SharedDeps } from './deps.ts';

export type RequestKind = 'command' | 'action' | 'view' | 'shortcut';

export type RequestDeps = Pick<
  SharedDeps,
  'logger' | 'metrics' | 'audit' | 'clock' | 'inflight' | 'slack' | 'permissions' | 'queue' | 'acks'
>;

/** What the middleware knows about a request before any listener runs. */
interface Identity {
  kind: RequestKind;
  /** The command without its slash, the action id, the view's or shortcut's callback id: the metric label. */
  name: string;
  user: string;
  channel: string | undefined;
  /** Goes into the audit row: the command text, the button's value. */
  params: Record<string, unknown>;
}

// How each kind is written in the audit log.
const AUDIT_ACTION: Record<RequestKind, string> = { command: 'command', action: 'button', view: 'form', shortcut: 'shortcut' };

/**
 * The request as its listener sees it (`scopeOf(context)`). Listeners ack through `ack` here rather than Bolt's, so
 * the scope knows whether Slack has its answer, and so the work after the ack takes its place in the queue.
 */
export class RequestScope {
  readonly reqId = nextRequestId();
  readonly kind: RequestKind;
  readonly name: string;
  readonly user: string;
  readonly channel: string | undefined;
  #log: Logger | undefined;
  /** Added to the audit row by the listener (the declared title, the incident id). */
  readonly auditParams: Record<string, unknown>;
  /** Where errors are answered when there is no response URL (a modal names the channel it was opened from). */
  replyChannel: string | undefined;
  /** Set by a listener that answered a problem itself (a form's field errors): the outcome it counts as. */
  outcome: 'ok' | 'user_error' | 'denied' | undefined;

  readonly #deps: RequestDeps;
  readonly #rawAck: (body?: unknown) => Promise<void>;
  readonly #respond: RespondFn | undefined;
  #acked = false;
  #atOnce = false;
  #slot: Slot | undefined;

  constructor(identity: Identity, args: AnyMiddlewareArgs, deps: RequestDeps) {
    this.kind = identity.kind;
    this.name = identity.name;
    this.user = identity.user;
    this.channel = identity.channel;
    this.auditParams = { ...identity.params };
    this.#deps = deps;
    this.#rawAck = 'ack' in args && args.ack ? (args.ack as (body?: unknown) => Promise<void>) : async () => undefined;
    this.#respond = 'respond' in args ? args.respond : undefined;
  }

  /** The request's child logger (reqId, user, channel, command), made when first used: most requests log nothing. */
  get log(): Logger {
    this.#log ??= this.#deps.logger.child({ reqId: this.reqId, user: this.user, channel: this.channel, command: this.name });
    return this.#log;
  }

  /** True once Slack has been answered; errors after that go through respond(). */
  get acked(): boolean {
    return this.#acked;
  }

  /** The queue's kind for this request's work: the command, or the family of the action (`incident:ack` → incident). */
  get queueKind(): string {
    return this.name.split(':')[0]!;
  }

  /**
   * Answers Slack, then waits for this request's turn in the queue: what the listener does after `await ack()` is
   * post-ack work, limited per kind. When a command has to wait, its ack says so, with its position (see #waitNoting
   * for the others).
   * A second call (after an early "Checking…" ack) shows its text in place of the first answer.
   */
  readonly ack = async (body?: unknown): Promise<void> => {
    if (this.#acked) return this.#replaceAnswer(body);
    // Reserved before the ack, so a full line is refused in the ack itself.
    const slot = this.#atOnce ? undefined : this.#deps.queue.reserve(this.queueKind);
    this.#slot = slot;
    this.#acked = true;
    const position = slot?.position ?? 0;
    if (this.kind === 'command') await this.#rawAck(withQueueNote(body, position, this.queueKind));
    else await this.#rawAck(body);
    if (slot && position > 0) {
      this.log.info({ event: 'request.queued', kind: this.queueKind, position });
      if (this.kind === 'command') await slot.granted;
      else await this.#waitNoting(slot);
    }
    await this.#deps.acks.turn();
  };

  /**
   * Waits for the slot of a click or a form, which has no ack text to carry its place in line: a note is posted only
   * when the wait outlasts QUEUE_NOTE_AFTER_MS. A wait of a few milliseconds behind a burst would otherwise put a
   * "Queued" message before nearly every answer.
   */
  async #waitNoting(slot: Slot): Promise<void> {
    let noted: Promise<void> | undefined;
    const timer = setTimeout(() => {
      noted = this.#tell(queueNote(slot.position, this.queueKind)).catch((error: unknown) =>
        this.log.warn({ event: 'request.queue_note_failed', err: error }),
      );
    }, QUEUE_NOTE_AFTER_MS);
    try {
      await slot.granted;
    } finally {
      clearTimeout(timer);
      // The note, once under way, reaches the user before the answer does.
      await noted;
    }
  }

  /**
   * Answers Slack with the whole reply: nothing follows the ack, so the request takes no place in the queue, waits for
   * no turn after other acks, and ends as soon as Slack has it (rather than staying in memory until a lull in a burst).
   */
  async answer(body: unknown): Promise<void> {
    if (this.#acked) return this.#replaceAnswer(body);
    this.#acked = true;
    await this.#rawAck(body);
  }

  /**
   * The work after the ack takes no place in the queue: it must start at once (opening a modal: Slack's trigger
   * expires after 3 s), or it only waits for a result another request is reading anyway (a shared health run).
   */
  runsAtOnce(): void {
    this.#atOnce = true;
  }

  /**
   * Throws NotPermittedError when the user may not. Decided before the ack when that needs no Slack call; when a
   * user group has to be looked up, Slack is answered first ("Checking…") and the lookup follows.
   */
  async authorize(action: PermissionAction, service?: string): Promise<void> {
    if (this.#deps.permissions.requireNow(action, service, this.user)) return;
    if (!this.#acked) await this.ack(this.kind === 'command' ? { response_type: 'ephemeral', text: CHECKING } : undefined);
    await this.#deps.permissions.require(action, service, this.user);
  }

  /** Runs the listener's part and everything that every request gets, whatever the listener does. */
  async handle(next: () => Promise<void>): Promise<void> {
    if (this.#deps.logger.isLevelEnabled('debug'))
      this.log.debug({ event: 'request.received', kind: this.kind, ...this.auditParams });
    let outcome: string = 'ok';
    try {
      await next();
      // A listener that never answered Slack would leave the user with "operation_timeout".
      if (!this.#acked) await this.#rawAck().then(() => (this.#acked = true));
    } catch (error) {
      outcome = outcomeOf(error);
      await this.#answerError(error).catch((replyError: unknown) =>
        this.log.warn({ event: 'request.error_reply_failed', err: replyError }),
      );
    } finally {
      this.#slot?.release();
    }
    if (outcome === 'ok' && this.outcome) outcome = this.outcome;
    this.#deps.metrics.commands.inc({ command: this.name, outcome });
    // After Slack has its answer: the audit write never delays the ack.
    this.#deps.audit.record(
      {
        actor: this.user,
        action: AUDIT_ACTION[this.kind],
        target: this.kind === 'command' ? `/${this.name}` : this.name,
        channel: this.channel,
        params: this.auditParams,
        result: outcome,
      },
      this.#deps.clock.now(),
    );
  }

  /** The message of a UserError, or a reference id for anything else: in the ack when Slack still waits, else privately. */
  async #answerError(error: unknown): Promise<void> {
    const text = this.#replyFor(error);
    if (!this.#acked) {
      this.#acked = true;
      if (this.kind === 'command') return this.#rawAck({ response_type: 'ephemeral', text });
      await this.#rawAck();
    }
    await this.#tell(text);
  }

  /**
   * The text a user sees for an error: the message of a UserError, a reference id for anything else. The request's
   * logger is made only for a line that is written: a typo in a command writes none at the default level.
   */
  #replyFor(error: unknown): string {
    if (error instanceof UserError) {
      // Denials are security events; a typo in a command is not worth an info line.
      if (error instanceof NotPermittedError)
        this.log.info({ event: `${this.name}.denied`, code: error.code, reason: error.message });
      else if (this.#deps.logger.isLevelEnabled('debug'))
        this.log.debug({ event: `${this.name}.rejected`, code: error.code, reason: error.message });
      return error.message;
    }
    const ref = errorReference();
    this.log.error({ event: `${this.name}.failed`, ref, err: error });
    return `:warning: Something went wrong on our side while handling this (reference \`${ref}\`). Your request may not have completed; the bot's logs have the details under that reference.`;
  }

  /** A private message to the user: through the response URL, else in the channel a modal named. */
  async #tell(text: string): Promise<void> {
    if (this.#respond) {
      await this.#respond({ response_type: 'ephemeral', replace_original: false, text });
      return;
    }
    if (this.replyChannel) {
      await this.#deps.slack.chat.postEphemeral({ channel: this.replyChannel, user: this.user, text });
      return;
    }
    this.log.warn({ event: 'request.unanswered', text });
  }

  /** A command answered early ("Checking…") shows what its ack would have said in place of that answer. */
  async #replaceAnswer(body: unknown): Promise<void> {
    if (this.kind !== 'command' || !this.#respond || body === undefined || body === '') return;
    const message = typeof body === 'string' ? { text: body } : (body as Record<string, unknown>);
    await this.#respond({ response_type: 'ephemeral', ...message, replace_original: true });
  }
}

const CHECKING = ':hourglass_flowing_sand: Checking…';

/** A click or form waiting this long for its turn is told where it stands in line. */
const QUEUE_NOTE_AFTER_MS = 1_000;

// Request ids: a random prefix per process (replicas differ) and a counter, instead of a random UUID per request.
const PROCESS_TAG = randomBytes(3).toString('hex');
let requests = 0;
function nextRequestId(): string {
  requests += 1;
  return `${PROCESS_TAG}-${requests.toString(36)}`;
}

function queueNote(position: number, kind: string): string {
  return `:hourglass: Queued: position ${position} in line for \`${kind}\` work, so it starts as soon as one ahead of it finishes.`;
}

/** The ack, with a line saying it waits in the queue (and where) when it does. */
function withQueueNote(body: unknown, position: number, kind: string): unknown {
  if (position === 0) return body;
  const note = queueNote(position, kind);
  if (body === undefined || body === '') return { response_type: 'ephemeral', text: note };
  if (typeof body === 'string') return { response_type: 'ephemeral', text: `${note}\n${body}` };
  const message = body as { text?: string };
  return { ...message, text: message.text ? `${note}\n${message.text}` : note };
}

export function outcomeOf(error: unknown): string {
  if (error instanceof NotPermittedError) return 'denied';
  if (error instanceof UserError) return 'user_error';
  return 'error';
}

/** The request's scope, set by `requestMiddleware` for every command, button, form and shortcut. */
export function scopeOf(context: Context): RequestScope {
  const scope: unknown = context.request;
  if (!(scope instanceof RequestScope)) throw new Error('requestMiddleware is not installed: a listener ran without its scope');
  return scope;
}

/**
 * Global Bolt middleware (as bolt-js src/middleware/builtin.ts): gives each command, button click, form submission and
 * shortcut its scope, tracks it until its work ends (so SIGTERM waits for it), and does what every request gets.
 */
export function requestMiddleware(deps: RequestDeps): Middleware<AnyMiddlewareArgs> {
  return async (args) => {
    const identity = identify(args.body as Record<string, unknown>);
    if (!identity) return args.next();
    const scope = new RequestScope(identity, args, deps);
    args.context.request = scope;
    await deps.inflight.track(scope.handle(() => args.next()));
  };
}

function identify(body: Record<string, unknown>): Identity | undefined {
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const record = (value: unknown) => (value && typeof value === 'object' ? (value as Record<string, unknown>) : {});
  if (typeof body.command === 'string') {
    return {
      kind: 'command',
      name: body.command.replace(/^\//, ''),
      user: text(body.user_id) ?? 'unknown',
      channel: text(body.channel_id),
      params: { text: text(body.text) ?? '' },
    };
  }
  const user = text(record(body.user).id) ?? 'unknown';
  switch (body.type) {
    case 'block_actions': {
      const action = record(Array.isArray(body.actions) ? body.actions[0] : undefined);
      return {
        kind: 'action',
        name: text(action.action_id) ?? 'unknown',
        user,
        channel: text(record(body.channel).id) ?? text(record(body.container).channel_id),
        params: action.value === undefined ? {} : { value: action.value },
      };
    }
    case 'view_submission':
      return { kind: 'view', name: text(record(body.view).callback_id) ?? 'unknown', user, channel: undefined, params: {} };
    case 'message_action':
    case 'shortcut':
      return {
        kind: 'shortcut',
        name: text(body.callback_id) ?? 'unknown',
        user,
        channel: text(record(body.channel).id),
        params: {},
      };
    default:
      return undefined;
  }
}
