// A fake Slack Web API on loopback: an in-memory workspace answering the methods runbook-bot calls as Slack does, with call recording and fault injection.
//
// Deliberate simplifications: no system messages (channel_join, channel_topic) are added to channel history, no
// per-method rate limits unless injected with failNext, and every call acts as the one bot user.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeFaults, FakeRateLimits, type FaultKind, type FaultOptions, type RateLimitOptions } from './slack-limits.ts';

export type Args = Record<string, unknown>;

/** The workspace every fake answers for unless options say otherwise; slack-requests.ts uses the same ids. */
export const FAKE_WORKSPACE = {
  teamId: 'T0TEST',
  teamName: 'Runbook Test',
  teamDomain: 'runbook-test',
  botUserId: 'U0BOT',
  botId: 'B0BOT',
  botName: 'runbook-bot',
  appId: 'A0RUNBOOK',
} as const;

export interface RecordedCall {
  /** 1, 2, 3…: order of arrival, so a test can wait for a call after the ones it has seen. */
  seq: number;
  /** A Web API method, or 'response_url' (a POST to a response URL) or 'file_upload' (bytes sent to an upload URL). */
  method: string;
  /** Parsed arguments without the token; JSON-encoded fields (blocks, attachments, view, metadata, files) parsed; other form values stay strings. */
  args: Args;
  /** Epoch milliseconds when the request arrived. */
  at: number;
  token?: string | undefined;
  /** HTTP status the fake answered (429 for an injected rate limit). */
  status: number;
  /** Slack's error code when the answer was not ok. */
  error?: string | undefined;
  /** The network fault this call met, if any (see injectFaults). */
  fault?: FaultKind | undefined;
}

export interface FakeUser {
  id: string;
  name: string;
  realName: string;
  isBot: boolean;
  deleted: boolean;
  tz: string;
  email?: string | undefined;
}
export type UserSeed = Pick<FakeUser, 'id'> & Partial<Omit<FakeUser, 'id'>>;

export interface FakeChannel {
  id: string;
  name: string;
  isPrivate: boolean;
  isArchived: boolean;
  /** A direct message channel (D…), opened by posting to a user id or conversations.open. */
  isIm: boolean;
  topic: string;
  purpose: string;
  members: string[];
  creator: string;
  /** Epoch seconds. */
  created: number;
}
export interface ChannelSeed {
  name: string;
  id?: string;
  isPrivate?: boolean;
  isArchived?: boolean;
  /** Default: the bot and every user seeded so far (an #ops channel everyone is in). */
  members?: string[];
  topic?: string;
  purpose?: string;
}

export interface FakeUsergroup {
  id: string;
  handle: string;
  name: string;
  users: string[];
}
export type UsergroupSeed = Pick<FakeUsergroup, 'id' | 'users'> & Partial<FakeUsergroup>;

export interface FakeMessage {
  channel: string;
  ts: string;
  /** Who posted it: the bot for chat.postMessage, anyone for seedMessage. */
  user: string;
  text: string;
  blocks?: unknown[] | undefined;
  attachments?: unknown[] | undefined;
  threadTs?: string | undefined;
  metadata?: { event_type: string; event_payload: Record<string, unknown> } | undefined;
  reactions: { name: string; users: string[] }[];
  pinned: boolean;
  /** ts of the last chat.update. */
  editedTs?: string | undefined;
  files?: { id: string; name: string; title: string }[] | undefined;
}

export interface FakeEphemeral {
  channel: string;
  /** The only user who sees it. */
  user: string;
  ts: string;
  text: string;
  blocks?: unknown[] | undefined;
  threadTs?: string | undefined;
}

export interface FakeResponse {
  /** The response URL's id (the last path segment). */
  id: string;
  url: string;
  /** The JSON body posted: text, blocks, response_type, replace_original, delete_original. */
  body: Args;
  at: number;
}

export interface FakeView {
  id: string;
  type: string;
  callbackId: string;
  privateMetadata: string;
  externalId: string;
  hash: string;
  rootViewId: string;
  previousViewId: string | null;
  title: unknown;
  blocks: unknown[];
  /** The view object as last sent by views.open / views.push / views.update. */
  view: Args;
  openedBy: 'views.open' | 'views.push';
  triggerId: string;
}

export interface FakeFile {
  id: string;
  filename: string;
  length: number;
  title: string;
  /** The bytes sent to the upload URL, once they were. */
  bytes?: Buffer | undefined;
  completed: boolean;
  channels: string[];
}

export interface FakeCanvas {
  id: string;
  title: string;
  /** The channel whose canvas it is (conversations.canvases.create), or where canvases.create shared it. */
  channel: string | null;
  markdown: string;
}

export interface FakeSlackOptions {
  /** Tokens answered as valid; default any xoxb-/xoxp- token. Others get invalid_auth, none gets not_authed. */
  tokens?: string[];
  workspace?: Partial<typeof FAKE_WORKSPACE>;
  users?: UserSeed[];
  channels?: ChannelSeed[];
  usergroups?: UsergroupSeed[];
}

export interface FailOptions {
  /** How many calls in a row fail; default 1. */
  times?: number;
  /** For 'ratelimited': the Retry-After header in seconds; default 1. */
  retryAfterSeconds?: number;
}

export interface ResponseUrlTarget {
  /** The message the interaction came from: replace_original / delete_original then change it, as in Slack. */
  channelId?: string;
  messageTs?: string;
}

class SlackApiError extends Error {
  readonly code: string;
  readonly extra: Args;
  constructor(code: string, extra: Args = {}) {
    super(code);
    this.code = code;
    this.extra = extra;
  }
}

type Handler = (args: Args) => Args | Promise<Args>;
type Waiter = { predicate: (call: RecordedCall) => boolean; resolve: (call: RecordedCall) => void };

// Fields the Web API client JSON-encodes inside form bodies.
const JSON_FIELDS = new Set(['blocks', 'attachments', 'view', 'metadata', 'files', 'document_content']);
// Slack's limits that the bot could plausibly hit (docs.slack.dev/reference/block-kit/blocks).
const LIMITS = {
  text: 40_000,
  messageBlocks: 50,
  viewBlocks: 100,
  sectionText: 3_000,
  headerText: 150,
  fields: 10,
  fieldText: 2_000,
  viewTitle: 24,
  topic: 250,
  channelName: 80,
  viewStack: 3,
  responseUrlUses: 5,
};

/** Starts a fake Slack Web API on 127.0.0.1 at a free port; point WebClient's `slackApiUrl` at `fake.url`. */
export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const fake = new FakeSlack(options);
  await fake.listen();
  return fake;
}

export class FakeSlack {
  readonly #options: FakeSlackOptions;
  readonly #workspace: typeof FAKE_WORKSPACE;
  readonly #server: Server;
  readonly #handlers: Record<string, Handler>;
  #origin = '';
  #idCounter = 0;
  #lastTsMicros = 0;
  #seq = 0;

  #users = new Map<string, FakeUser>();
  #channels = new Map<string, FakeChannel>();
  #usergroups = new Map<string, FakeUsergroup>();
  #messages: FakeMessage[] = [];
  #ephemerals: FakeEphemeral[] = [];
  #views = new Map<string, FakeView>();
  #files = new Map<string, FakeFile>();
  #canvases = new Map<string, FakeCanvas>();
  /** The error canvas calls answer with (a free workspace, canvases turned off), or undefined when allowed. */
  #canvasRefusal: string | undefined;
  #usedTriggers = new Set<string>();
  #responseUrls = new Map<string, ResponseUrlTarget & { uses: number }>();
  #responses: FakeResponse[] = [];
  #calls: RecordedCall[] = [];
  #waiters = new Set<Waiter>();
  #arrivals = new Set<Waiter>();
  #failures = new Map<string, { error: string; retryAfterSeconds: number }[]>();
  #delays = new Map<string, number>();
  #limits: FakeRateLimits | undefined;
  #socketMode: { appToken: string; open: () => { url: string } | { error: string } } | undefined;
  readonly #faults = new FakeFaults();
  readonly #hung = new Set<ServerResponse>();

  constructor(options: FakeSlackOptions = {}) {
    this.#options = options;
    this.#workspace = { ...FAKE_WORKSPACE, ...options.workspace };
    this.#server = createServer((req, res) => {
      this.#route(req, res).catch((error: unknown) => {
        if (!res.headersSent) writeJson(res, 500, { ok: false, error: 'fake_slack_bug', detail: String(error) });
      });
    });
    this.#handlers = this.#methodHandlers();
    this.#seed();
  }

  /** A bot token this fake accepts: the first of `options.tokens`, else a made-up xoxb- token. */
  get token(): string {
    return this.#options.tokens?.[0] ?? 'xoxb-fake-slack-token';
  }

  /** `http://127.0.0.1:PORT/api/`: WebClient's `slackApiUrl`. */
  get url(): string {
    return `${this.#origin}/api/`;
  }

  get workspace(): typeof FAKE_WORKSPACE {
    return this.#workspace;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = this.#server.address() as AddressInfo;
    this.#origin = `http://127.0.0.1:${port}`;
  }

  async close(): Promise<void> {
    for (const res of this.#hung) res.destroy();
    this.#hung.clear();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Back to the seeded workspace: forgets calls, messages, views, files, responses, injected faults and delays. */
  reset(): void {
    this.#users.clear();
    this.#channels.clear();
    this.#usergroups.clear();
    this.#messages = [];
    this.#ephemerals = [];
    this.#views.clear();
    this.#files.clear();
    this.#canvases.clear();
    this.#canvasRefusal = undefined;
    this.#usedTriggers.clear();
    this.#responseUrls.clear();
    this.#responses = [];
    this.#calls = [];
    this.#failures.clear();
    this.#delays.clear();
    this.#limits = undefined;
    this.#faults.reset();
    this.#seed();
  }

  // ---- seeding -------------------------------------------------------------------------------

  addUser(seed: UserSeed): FakeUser {
    const user: FakeUser = {
      name: seed.id.toLowerCase(),
      realName: seed.name ?? seed.id,
      isBot: false,
      deleted: false,
      tz: 'Europe/London',
      ...seed,
    };
    this.#users.set(user.id, user);
    return structuredClone(user);
  }

  /** Pre-creates a channel (archived ones too); throws when the name is taken, as conversations.create would refuse. */
  addChannel(seed: ChannelSeed): FakeChannel {
    if (this.#findByName(seed.name)) throw new Error(`fake-slack: a channel named ${seed.name} exists`);
    const defaultMembers = [this.#workspace.botUserId, ...[...this.#users.values()].filter((u) => !u.isBot).map((u) => u.id)];
    const channel: FakeChannel = {
      id: seed.id ?? this.#newId(seed.isPrivate ? 'G' : 'C'),
      name: seed.name.replace(/^#/, ''),
      isPrivate: seed.isPrivate ?? false,
      isArchived: seed.isArchived ?? false,
      isIm: false,
      topic: seed.topic ?? '',
      purpose: seed.purpose ?? '',
      members: [...new Set(seed.members ?? defaultMembers)],
      creator: this.#workspace.botUserId,
      created: Math.floor(Date.now() / 1000),
    };
    this.#channels.set(channel.id, channel);
    return structuredClone(channel);
  }

  addUsergroup(seed: UsergroupSeed): FakeUsergroup {
    const group: FakeUsergroup = { handle: seed.id.toLowerCase(), name: seed.id, ...seed, users: [...seed.users] };
    this.#usergroups.set(group.id, group);
    return structuredClone(group);
  }

  /** A message from someone else (for shortcuts and reactions); the bot cannot update or delete it. */
  seedMessage(channel: string, message: { user: string; text: string; blocks?: unknown[]; threadTs?: string }): FakeMessage {
    const target = this.#resolveChannel(channel);
    if (!target) throw new Error(`fake-slack: no channel ${channel}`);
    const stored: FakeMessage = { channel: target.id, ts: this.#newTs(), reactions: [], pinned: false, ...message };
    this.#messages.push(stored);
    return structuredClone(stored);
  }

  /** A response URL served by this fake; POSTs to it are recorded (see responses()). */
  newResponseUrl(target: ResponseUrlTarget = {}): string {
    const id = this.#newId('R').toLowerCase();
    this.#responseUrls.set(id, { ...target, uses: 0 });
    return `${this.#origin}/response/${id}`;
  }

  // ---- inspection ----------------------------------------------------------------------------

  /** Every call in arrival order, optionally of one method. */
  calls(method?: string): RecordedCall[] {
    return structuredClone(method ? this.#calls.filter((c) => c.method === method) : this.#calls);
  }

  /** Current messages (after updates, without deleted ones) in post order, optionally of one channel (id or name). */
  messages(channel?: string): FakeMessage[] {
    const id = channel === undefined ? undefined : (this.#resolveChannel(channel)?.id ?? channel);
    return structuredClone(id === undefined ? this.#messages : this.#messages.filter((m) => m.channel === id));
  }

  ephemerals(channel?: string, user?: string): FakeEphemeral[] {
    const id = channel === undefined ? undefined : (this.#resolveChannel(channel)?.id ?? channel);
    return structuredClone(
      this.#ephemerals.filter((e) => (id === undefined || e.channel === id) && (user === undefined || e.user === user)),
    );
  }

  /** Bodies posted to response URLs, optionally to one (its id or the whole URL). */
  responses(responseUrlId?: string): FakeResponse[] {
    const id = responseUrlId?.split('/').pop();
    return structuredClone(id === undefined ? this.#responses : this.#responses.filter((r) => r.id === id));
  }

  channelByName(name: string): FakeChannel | undefined {
    const channel = this.#findByName(name);
    return channel && structuredClone(channel);
  }

  channel(id: string): FakeChannel | undefined {
    const channel = this.#channels.get(id);
    return channel && structuredClone(channel);
  }

  channels(): FakeChannel[] {
    return structuredClone([...this.#channels.values()]);
  }

  views(): FakeView[] {
    return structuredClone([...this.#views.values()]);
  }

  canvases(): FakeCanvas[] {
    return [...this.#canvases.values()].map((canvas) => ({ ...canvas }));
  }

  /** Canvases are not allowed in this workspace: canvases.create and conversations.canvases.create answer `error`. */
  refuseCanvases(error: 'not_allowed' | 'team_tier_cannot_create_canvases' | 'canvas_disabled_user_team' = 'not_allowed'): void {
    this.#canvasRefusal = error;
  }

  files(): FakeFile[] {
    return [...this.#files.values()].map((f) => ({ ...f, channels: [...f.channels] }));
  }

  /**
   * Resolves with the first recorded call that matches, including ones already recorded (use `seq` or `at` in the
   * predicate to skip those). A method name matches any call of that method. The call's effects are visible when it resolves.
   */
  waitFor(match: string | ((call: RecordedCall) => boolean), timeoutMs = 5_000): Promise<RecordedCall> {
    const predicate = typeof match === 'string' ? (call: RecordedCall) => call.method === match : match;
    const seen = this.#calls.find(predicate);
    if (seen) return Promise.resolve(structuredClone(seen));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve: (call) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(structuredClone(call));
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const methods = this.#calls.map((c) => c.method + (c.error ? `(${c.error})` : '')).join(', ') || 'none';
        reject(new Error(`fake-slack: no matching call within ${timeoutMs} ms; calls so far: ${methods}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Resolves when a matching call arrives, before any delay and before it is processed (waitFor resolves after). */
  waitForArrival(match: string | ((call: RecordedCall) => boolean), timeoutMs = 5_000): Promise<RecordedCall> {
    const predicate = typeof match === 'string' ? (call: RecordedCall) => call.method === match : match;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve: (call) => {
          clearTimeout(timer);
          this.#arrivals.delete(waiter);
          resolve(call);
        },
      };
      const timer = setTimeout(() => {
        this.#arrivals.delete(waiter);
        reject(new Error(`no matching call arrived within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#arrivals.add(waiter);
    });
  }

  /**
   * Answers apps.connections.open for an app token (fake-socket-mode.ts): `open` gives the WebSocket URL or a Slack
   * error code (too_many_websockets). Another xapp- token is invalid_auth; a bot token is not_allowed_token_type.
   */
  serveSocketMode(appToken: string, open: () => { url: string } | { error: string }): void {
    this.#socketMode = { appToken, open };
  }

  // ---- fault injection -----------------------------------------------------------------------

  /** The next call(s) of `method` fail: 'ratelimited' answers HTTP 429 with Retry-After, any other error `{ ok: false, error }`. */
  failNext(method: string, error: string, options: FailOptions = {}): void {
    const queue = this.#failures.get(method) ?? [];
    for (let i = 0; i < (options.times ?? 1); i += 1) queue.push({ error, retryAfterSeconds: options.retryAfterSeconds ?? 1 });
    this.#failures.set(method, queue);
  }

  /** From now on, enforce Slack's rate limits: a call past its method's (or channel's) budget gets 429 + Retry-After. */
  enforceRateLimits(options: RateLimitOptions = {}): void {
    this.#limits = new FakeRateLimits(options);
  }

  /** From now on, a share of calls meets a network fault (500 or a dropped connection, before or after the effect, or no answer). */
  injectFaults(options: FaultOptions | undefined): void {
    this.#faults.configure(options);
  }

  /** The next call(s) of `method` meet this fault. */
  faultNext(method: string, kind: FaultKind, times = 1): void {
    this.#faults.queue(method, kind, times);
  }

  /** Every later call of `method` ('*' for all) waits `ms` before it is processed and answered; 0 removes the delay. */
  delay(method: string, ms: number): void {
    if (ms > 0) this.#delays.set(method, ms);
    else this.#delays.delete(method);
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const url = new URL(req.url ?? '/', this.#origin);
    const raw = await readBody(req);
    const [, area, id = ''] = url.pathname.split('/');
    if (area === 'api') return this.#api(id, req, url, raw, at, res);
    if (area === 'response' && req.method === 'POST') return this.#responseUrl(id, req, raw, at, res);
    if (area === 'upload' && req.method === 'POST') return this.#upload(id, req, raw, at, res);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  }

  async #api(method: string, req: IncomingMessage, url: URL, raw: Buffer, at: number, res: ServerResponse): Promise<void> {
    const args = await parseArgs(req.headers['content-type'], raw, url.searchParams).catch((): Args => ({}));
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ?? (typeof args.token === 'string' ? args.token : undefined);
    delete args.token;
    const call: RecordedCall = { seq: ++this.#seq, method, args, at, token, status: 200 };
    for (const waiter of [...this.#arrivals]) if (waiter.predicate(call)) waiter.resolve(call);

    const wait = this.#delays.get(method) ?? this.#delays.get('*');
    if (wait) await sleep(wait);

    let status = 200;
    let body: Args;
    const headers: Record<string, string> = {};
    const handler = Object.hasOwn(this.#handlers, method) ? this.#handlers[method] : undefined;
    const failure = this.#failures.get(method)?.shift();
    const retryAfter = this.#limits?.take(method, typeof args.channel === 'string' ? args.channel : undefined) ?? 0;
    // A rate-limited call is refused before anything else: Slack did not process it.
    const fault = retryAfter > 0 ? undefined : this.#faults.next(method);
    call.fault = fault;
    if (fault === 'drop_before' || fault === 'http500_before') {
      call.status = fault === 'http500_before' ? 500 : 0;
      this.#record(call);
      if (fault === 'drop_before') res.socket?.destroy();
      else res.writeHead(500, { 'content-type': 'text/html' }).end('<html><body>500 Internal Server Error</body></html>');
      return;
    }
    try {
      if (!handler) throw new SlackApiError('unknown_method');
      if (method === 'apps.connections.open') this.#authenticateApp(token);
      else if (method !== 'api.test') this.#authenticate(token);
      if (retryAfter > 0 || failure?.error === 'ratelimited') {
        status = 429;
        headers['retry-after'] = String(retryAfter || failure!.retryAfterSeconds);
        throw new SlackApiError('ratelimited');
      }
      if (failure) throw new SlackApiError(failure.error);
      body = { ok: true, ...(await handler(args)) };
    } catch (error) {
      if (!(error instanceof SlackApiError)) throw error;
      body = { ok: false, error: error.code, ...error.extra };
    }
    call.status = status;
    if (body.ok !== true) call.error = String(body.error);
    this.#record(call);
    // Faults after the effect: the call was processed (a message stored, a channel created), but the answer is lost.
    if (fault === 'drop_after') return void res.socket?.destroy();
    if (fault === 'http500_after') {
      call.status = 500;
      res.writeHead(500, { 'content-type': 'text/html' }).end('<html><body>500 Internal Server Error</body></html>');
      return;
    }
    if (fault === 'no_answer_after') {
      call.status = 0;
      this.#hung.add(res);
      res.once('close', () => this.#hung.delete(res));
      return;
    }
    writeJson(res, status, body, headers);
  }

  async #responseUrl(id: string, req: IncomingMessage, raw: Buffer, at: number, res: ServerResponse): Promise<void> {
    const body = await parseArgs(req.headers['content-type'], raw, new URLSearchParams()).catch((): Args => ({}));
    const call: RecordedCall = {
      seq: ++this.#seq,
      method: 'response_url',
      args: { responseUrlId: id, ...body },
      at,
      status: 200,
    };
    const wait = this.#delays.get('response_url') ?? this.#delays.get('*');
    if (wait) await sleep(wait);
    const target = this.#responseUrls.get(id);
    const failure = this.#failures.get('response_url')?.shift();
    // Slack answers an unknown or spent response URL with 404 and a reason.
    const error = failure?.error ?? (!target ? 'expired_url' : target.uses >= LIMITS.responseUrlUses ? 'used_url' : undefined);
    if (error) {
      call.status = error === 'ratelimited' ? 429 : 404;
      call.error = error;
      this.#record(call);
      writeJson(
        res,
        call.status,
        { ok: false, error },
        error === 'ratelimited' ? { 'retry-after': String(failure?.retryAfterSeconds ?? 1) } : {},
      );
      return;
    }
    target!.uses += 1;
    this.#applyResponse(target!, body);
    this.#responses.push({ id, url: `${this.#origin}/response/${id}`, body, at });
    this.#record(call);
    writeJson(res, 200, { ok: true });
  }

  async #upload(fileId: string, req: IncomingMessage, raw: Buffer, at: number, res: ServerResponse): Promise<void> {
    const file = this.#files.get(fileId);
    const call: RecordedCall = { seq: ++this.#seq, method: 'file_upload', args: { fileId, bytes: 0 }, at, status: 200 };
    if (!file) {
      call.status = 404;
      call.error = 'file_not_found';
      this.#record(call);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('file_not_found');
      return;
    }
    let bytes = raw;
    const contentType = req.headers['content-type'] ?? '';
    if (contentType.startsWith('multipart/form-data')) {
      const form = await new Response(new Uint8Array(raw), { headers: { 'content-type': contentType } }).formData();
      const part = [...form.values()].find((v): v is File => typeof v !== 'string');
      bytes = part ? Buffer.from(await part.arrayBuffer()) : Buffer.alloc(0);
    }
    file.bytes = bytes;
    call.args = { fileId, filename: file.filename, bytes: bytes.length };
    this.#record(call);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`OK - ${bytes.length}`);
  }

  #authenticate(token: string | undefined): void {
    if (!token) throw new SlackApiError('not_authed');
    const valid = this.#options.tokens ? this.#options.tokens.includes(token) : /^xox[bp]-/.test(token);
    if (!valid) throw new SlackApiError('invalid_auth');
  }

  #authenticateApp(token: string | undefined): void {
    if (!token) throw new SlackApiError('not_authed');
    if (!token.startsWith('xapp-')) throw new SlackApiError('not_allowed_token_type');
    if (token !== this.#socketMode?.appToken) throw new SlackApiError('invalid_auth');
  }

  #record(call: RecordedCall): void {
    this.#calls.push(call);
    for (const waiter of [...this.#waiters]) if (waiter.predicate(call)) waiter.resolve(call);
  }

  // ---- the model -----------------------------------------------------------------------------

  #seed(): void {
    const ws = this.#workspace;
    this.addUser({ id: ws.botUserId, name: ws.botName, realName: ws.botName, isBot: true });
    for (const user of this.#options.users ?? []) this.addUser(user);
    for (const channel of this.#options.channels ?? []) this.addChannel(channel);
    for (const group of this.#options.usergroups ?? []) this.addUsergroup(group);
  }

  #newId(prefix: string): string {
    this.#idCounter += 1;
    return prefix + this.#idCounter.toString(36).toUpperCase().padStart(10, '0');
  }

  /** Slack's message ts: epoch seconds with microseconds, unique and increasing. */
  #newTs(): string {
    this.#lastTsMicros = Math.max(this.#lastTsMicros + 1, Date.now() * 1000);
    return `${Math.floor(this.#lastTsMicros / 1e6)}.${String(this.#lastTsMicros % 1e6).padStart(6, '0')}`;
  }

  #findByName(name: string): FakeChannel | undefined {
    const bare = name.replace(/^#/, '');
    const matches = [...this.#channels.values()].filter((c) => !c.isIm && c.name === bare);
    return matches.find((c) => !c.isArchived) ?? matches[0];
  }

  /** An id of a known channel, `#name` or `name`, or a user id (their DM with the bot). */
  #resolveChannel(ref: string): FakeChannel | undefined {
    const byId = this.#channels.get(ref);
    if (byId) return byId;
    if (this.#users.has(ref)) return this.#dm(ref);
    return this.#findByName(ref);
  }

  #dm(userId: string): FakeChannel {
    const existing = [...this.#channels.values()].find((c) => c.isIm && c.members.includes(userId));
    if (existing) return existing;
    const channel: FakeChannel = {
      id: this.#newId('D'),
      name: userId,
      isPrivate: true,
      isArchived: false,
      isIm: true,
      topic: '',
      purpose: '',
      members: [this.#workspace.botUserId, userId],
      creator: this.#workspace.botUserId,
      created: Math.floor(Date.now() / 1000),
    };
    this.#channels.set(channel.id, channel);
    return channel;
  }

  /** A channel the bot can see, by id only (conversations.* and chat.update take ids). */
  #channelById(args: Args, key = 'channel'): FakeChannel {
    const channel = this.#channels.get(str(args, key));
    if (!channel || !this.#canSee(channel)) throw new SlackApiError('channel_not_found');
    return channel;
  }

  /** Private channels the bot is not in do not exist for it. */
  #canSee(channel: FakeChannel): boolean {
    return !channel.isPrivate || channel.members.includes(this.#workspace.botUserId);
  }

  #requireMember(channel: FakeChannel): void {
    if (!channel.members.includes(this.#workspace.botUserId)) throw new SlackApiError('not_in_channel');
  }

  #requireOpen(channel: FakeChannel): void {
    if (channel.isArchived) throw new SlackApiError('is_archived');
  }

  /** A channel to post in: id, name or user id; public channels need no membership (chat:write.public). */
  #postTarget(args: Args): FakeChannel {
    const channel = this.#resolveChannel(str(args, 'channel'));
    if (!channel || !this.#canSee(channel)) throw new SlackApiError('channel_not_found');
    this.#requireOpen(channel);
    return channel;
  }

  #message(channel: FakeChannel, ts: string): FakeMessage {
    if (!ts) throw new SlackApiError('message_not_found');
    const message = this.#messages.find((m) => m.channel === channel.id && m.ts === ts);
    if (!message) throw new SlackApiError('message_not_found');
    return message;
  }

  #user(id: string): FakeUser {
    const user = this.#users.get(id);
    if (!user) throw new SlackApiError('user_not_found');
    return user;
  }

  #applyResponse(target: ResponseUrlTarget, body: Args): void {
    if (!target.channelId) return;
    const message = target.messageTs
      ? this.#messages.find((m) => m.channel === target.channelId && m.ts === target.messageTs)
      : undefined;
    if (body.delete_original === true && message) {
      this.#messages = this.#messages.filter((m) => m !== message);
    } else if (body.replace_original === true && message) {
      if (typeof body.text === 'string') message.text = body.text;
      if (Array.isArray(body.blocks)) message.blocks = body.blocks;
      message.editedTs = this.#newTs();
    } else if (body.response_type === 'in_channel') {
      this.#messages.push({
        channel: target.channelId,
        ts: this.#newTs(),
        user: this.#workspace.botUserId,
        text: String(body.text ?? ''),
        blocks: asArray(body.blocks),
        reactions: [],
        pinned: false,
      });
    }
  }

  // ---- Slack-shaped output -------------------------------------------------------------------

  #channelJson(channel: FakeChannel): Args {
    const bot = this.#workspace.botUserId;
    if (channel.isIm)
      return {
        id: channel.id,
        created: channel.created,
        is_im: true,
        is_org_shared: false,
        user: channel.members.find((m) => m !== bot),
        is_user_deleted: false,
        priority: 0,
      };
    return {
      id: channel.id,
      name: channel.name,
      is_channel: !channel.isPrivate,
      is_group: channel.isPrivate,
      is_im: false,
      is_mpim: false,
      is_private: channel.isPrivate,
      created: channel.created,
      creator: channel.creator,
      is_archived: channel.isArchived,
      is_general: false,
      unlinked: 0,
      name_normalized: channel.name,
      is_shared: false,
      is_org_shared: false,
      is_ext_shared: false,
      is_member: channel.members.includes(bot),
      topic: { value: channel.topic, creator: channel.topic ? bot : '', last_set: 0 },
      purpose: { value: channel.purpose, creator: channel.purpose ? bot : '', last_set: 0 },
      previous_names: [],
      num_members: channel.members.length,
      context_team_id: this.#workspace.teamId,
    };
  }

  #messageJson(message: FakeMessage, includeMetadata: boolean): Args {
    const fromBot = message.user === this.#workspace.botUserId;
    return {
      type: 'message',
      ts: message.ts,
      user: message.user,
      ...(fromBot ? { bot_id: this.#workspace.botId, app_id: this.#workspace.appId } : {}),
      text: message.text,
      team: this.#workspace.teamId,
      ...(message.blocks ? { blocks: message.blocks } : {}),
      ...(message.attachments ? { attachments: message.attachments } : {}),
      ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
      ...(message.editedTs ? { edited: { user: message.user, ts: message.editedTs } } : {}),
      ...(message.reactions.length
        ? { reactions: message.reactions.map((r) => ({ name: r.name, users: r.users, count: r.users.length })) }
        : {}),
      ...(message.pinned ? { pinned_to: [message.channel] } : {}),
      ...(message.files ? { files: message.files } : {}),
      ...(includeMetadata && message.metadata ? { metadata: message.metadata } : {}),
    };
  }

  #userJson(user: FakeUser): Args {
    return {
      id: user.id,
      team_id: this.#workspace.teamId,
      name: user.name,
      deleted: user.deleted,
      real_name: user.realName,
      tz: user.tz,
      is_bot: user.isBot,
      is_app_user: false,
      is_admin: false,
      is_restricted: false,
      is_ultra_restricted: false,
      profile: { real_name: user.realName, display_name: user.name, ...(user.email ? { email: user.email } : {}) },
    };
  }

  #viewJson(view: FakeView): Args {
    return {
      ...view.view,
      id: view.id,
      team_id: this.#workspace.teamId,
      type: view.type,
      callback_id: view.callbackId,
      private_metadata: view.privateMetadata,
      external_id: view.externalId,
      state: { values: {} },
      hash: view.hash,
      root_view_id: view.rootViewId,
      previous_view_id: view.previousViewId,
      app_id: this.#workspace.appId,
      bot_id: this.#workspace.botId,
    };
  }

  // ---- methods -------------------------------------------------------------------------------

  #methodHandlers(): Record<string, Handler> {
    const ws = this.#workspace;
    return {
      'api.test': (args) => ({ args }),
      'apps.connections.open': () => {
        if (!this.#socketMode) throw new SlackApiError('invalid_auth');
        const answer = this.#socketMode.open();
        if ('error' in answer) throw new SlackApiError(answer.error);
        return answer;
      },
      'auth.test': () => ({
        url: `https://${ws.teamDomain}.slack.com/`,
        team: ws.teamName,
        user: ws.botName,
        team_id: ws.teamId,
        user_id: ws.botUserId,
        bot_id: ws.botId,
        is_enterprise_install: false,
      }),

      'conversations.create': (args) => {
        const name = str(args, 'name');
        const problem = channelNameProblem(name);
        if (problem) throw new SlackApiError(problem);
        if (this.#findByName(name)) throw new SlackApiError('name_taken');
        const isPrivate = bool(args.is_private);
        const channel = this.addChannel({ name, isPrivate, members: [ws.botUserId] });
        return { channel: this.#channelJson(this.#channels.get(channel.id)!) };
      },
      'conversations.info': (args) => ({ channel: this.#channelJson(this.#channelById(args)) }),
      'conversations.list': (args) => {
        const types = new Set((str(args, 'types') || 'public_channel').split(','));
        const all = [...this.#channels.values()].filter(
          (c) =>
            this.#canSee(c) &&
            (c.isIm ? types.has('im') : c.isPrivate ? types.has('private_channel') : types.has('public_channel')) &&
            !(bool(args.exclude_archived) && c.isArchived),
        );
        const { items, nextCursor } = page(all, args, 100);
        return { channels: items.map((c) => this.#channelJson(c)), response_metadata: { next_cursor: nextCursor } };
      },
      'conversations.archive': (args) => {
        const channel = this.#channelById(args);
        if (channel.isIm) throw new SlackApiError('method_not_supported_for_channel_type');
        if (channel.isArchived) throw new SlackApiError('already_archived');
        this.#requireMember(channel);
        channel.isArchived = true;
        return {};
      },
      'conversations.setTopic': (args) => {
        const channel = this.#channelById(args);
        this.#requireOpen(channel);
        this.#requireMember(channel);
        const topic = str(args, 'topic');
        if (topic.length > LIMITS.topic) throw new SlackApiError('too_long');
        channel.topic = topic;
        return { channel: this.#channelJson(channel) };
      },
      'conversations.setPurpose': (args) => {
        const channel = this.#channelById(args);
        this.#requireOpen(channel);
        this.#requireMember(channel);
        const purpose = str(args, 'purpose');
        if (purpose.length > LIMITS.topic) throw new SlackApiError('too_long');
        channel.purpose = purpose;
        return { channel: this.#channelJson(channel) };
      },
      'conversations.invite': (args) => {
        const channel = this.#channelById(args);
        if (channel.isIm) throw new SlackApiError('method_not_supported_for_channel_type');
        this.#requireOpen(channel);
        this.#requireMember(channel);
        const users = str(args, 'users')
          .split(',')
          .map((u) => u.trim())
          .filter(Boolean);
        if (users.length === 0) throw new SlackApiError('no_user');
        if (users.length > 1000) throw new SlackApiError('too_many_users');
        const errors: Args[] = [];
        const valid: string[] = [];
        for (const user of users) {
          const error = !this.#users.has(user)
            ? 'user_not_found'
            : user === ws.botUserId
              ? 'cant_invite_self'
              : channel.members.includes(user)
                ? 'already_in_channel'
                : undefined;
          if (error) errors.push({ user, ok: false, error });
          else valid.push(user);
        }
        // Without force one bad user fails the whole call; with force the valid ones are invited.
        if (errors.length && (!bool(args.force) || valid.length === 0))
          throw new SlackApiError(String(errors[0]!.error), { errors });
        channel.members.push(...new Set(valid));
        return { channel: this.#channelJson(channel), ...(errors.length ? { errors } : {}) };
      },
      'conversations.join': (args) => {
        const channel = this.#channelById(args);
        if (channel.isPrivate || channel.isIm) throw new SlackApiError('method_not_supported_for_channel_type');
        this.#requireOpen(channel);
        const already = channel.members.includes(ws.botUserId);
        if (!already) channel.members.push(ws.botUserId);
        return {
          channel: this.#channelJson(channel),
          ...(already ? { warning: 'already_in_channel', response_metadata: { warnings: ['already_in_channel'] } } : {}),
        };
      },
      'conversations.members': (args) => {
        const channel = this.#channelById(args);
        const { items, nextCursor } = page(channel.members, args, 100);
        return { members: items, response_metadata: { next_cursor: nextCursor } };
      },
      'conversations.open': (args) => {
        const users = str(args, 'users').split(',').filter(Boolean);
        if (users.length !== 1) throw new SlackApiError(users.length ? 'not_implemented_in_fake' : 'users_list_not_supplied');
        return { channel: { id: this.#dm(this.#user(users[0]!).id).id } };
      },
      'users.conversations': (args) => {
        const types = new Set((str(args, 'types') || 'public_channel').split(','));
        const mine = [...this.#channels.values()].filter(
          (c) =>
            c.members.includes(ws.botUserId) &&
            !c.isIm &&
            (c.isPrivate ? types.has('private_channel') : types.has('public_channel')) &&
            !(bool(args.exclude_archived) && c.isArchived),
        );
        const { items, nextCursor } = page(mine, args, 100);
        return { channels: items.map((c) => this.#channelJson(c)), response_metadata: { next_cursor: nextCursor } };
      },
      'conversations.history': (args) => {
        const channel = this.#channelById(args);
        this.#requireMember(channel);
        const inclusive = bool(args.inclusive);
        const oldest = Number(str(args, 'oldest') || '0');
        const latest = args.latest === undefined ? Infinity : Number(str(args, 'latest'));
        const inRange = (ts: number) => (inclusive ? ts >= oldest && ts <= latest : ts > oldest && ts < latest);
        const found = this.#messages
          .filter((m) => m.channel === channel.id && (!m.threadTs || m.threadTs === m.ts) && inRange(Number(m.ts)))
          .sort((a, b) => Number(b.ts) - Number(a.ts));
        const { items, nextCursor } = page(found, args, 100);
        return {
          messages: items.map((m) => this.#messageJson(m, bool(args.include_all_metadata))),
          has_more: nextCursor !== '',
          pin_count: 0,
          response_metadata: { next_cursor: nextCursor },
        };
      },

      'chat.postMessage': (args) => {
        const channel = this.#postTarget(args);
        const content = messageContent(args);
        const metadata = messageMetadata(args);
        const message: FakeMessage = {
          channel: channel.id,
          ts: this.#newTs(),
          user: ws.botUserId,
          text: content.text ?? '',
          reactions: [],
          pinned: false,
        };
        if (content.blocks) message.blocks = content.blocks;
        if (content.attachments) message.attachments = content.attachments;
        if (metadata) message.metadata = metadata;
        if (str(args, 'thread_ts')) message.threadTs = str(args, 'thread_ts');
        this.#messages.push(message);
        return { channel: channel.id, ts: message.ts, message: this.#messageJson(message, false) };
      },
      'chat.update': (args) => {
        const channel = this.#channelById(args);
        this.#requireOpen(channel);
        const message = this.#message(channel, str(args, 'ts'));
        if (message.user !== ws.botUserId) throw new SlackApiError('cant_update_message');
        const content = messageContent(args);
        // Fields left out keep their value; `blocks: []` removes the blocks (docs.slack.dev/reference/methods/chat.update).
        if (content.text !== undefined) message.text = content.text;
        if (content.blocks) message.blocks = content.blocks.length ? content.blocks : undefined;
        if (content.attachments) message.attachments = content.attachments.length ? content.attachments : undefined;
        const metadata = messageMetadata(args);
        if (metadata) message.metadata = metadata;
        message.editedTs = this.#newTs();
        return { channel: channel.id, ts: message.ts, text: message.text, message: this.#messageJson(message, false) };
      },
      'chat.postEphemeral': (args) => {
        const channel = this.#postTarget(args);
        const user = this.#user(str(args, 'user'));
        if (!channel.members.includes(user.id)) throw new SlackApiError('user_not_in_channel');
        const content = messageContent(args);
        const ephemeral: FakeEphemeral = { channel: channel.id, user: user.id, ts: this.#newTs(), text: content.text ?? '' };
        if (content.blocks) ephemeral.blocks = content.blocks;
        if (str(args, 'thread_ts')) ephemeral.threadTs = str(args, 'thread_ts');
        this.#ephemerals.push(ephemeral);
        return { message_ts: ephemeral.ts };
      },
      'chat.delete': (args) => {
        const channel = this.#channelById(args);
        const message = this.#message(channel, str(args, 'ts'));
        if (message.user !== ws.botUserId) throw new SlackApiError('cant_delete_message');
        this.#messages = this.#messages.filter((m) => m !== message);
        return { channel: channel.id, ts: message.ts };
      },
      'conversations.canvases.create': (args) => {
        if (this.#canvasRefusal) throw new SlackApiError(this.#canvasRefusal);
        const channel = this.#channelById(args, 'channel_id');
        this.#requireOpen(channel);
        if ([...this.#canvases.values()].some((canvas) => canvas.channel === channel.id))
          throw new SlackApiError('channel_canvas_already_exists');
        const canvas = { id: this.#newId('F'), title: channel.name, channel: channel.id, markdown: canvasMarkdown(args) };
        this.#canvases.set(canvas.id, canvas);
        return { canvas_id: canvas.id };
      },
      'canvases.create': (args) => {
        if (this.#canvasRefusal) throw new SlackApiError(this.#canvasRefusal);
        const channel = str(args, 'channel_id') ? this.#channelById(args, 'channel_id') : undefined;
        const canvas = {
          id: this.#newId('F'),
          title: str(args, 'title'),
          channel: channel?.id ?? null,
          markdown: canvasMarkdown(args),
        };
        this.#canvases.set(canvas.id, canvas);
        return { canvas_id: canvas.id };
      },
      'pins.add': (args) => {
        const channel = this.#channelById(args);
        this.#requireOpen(channel);
        if (!str(args, 'timestamp')) throw new SlackApiError('no_item_specified');
        const message = this.#message(channel, str(args, 'timestamp'));
        if (message.pinned) throw new SlackApiError('already_pinned');
        message.pinned = true;
        return {};
      },
      'reactions.add': (args) => {
        const channel = this.#channelById(args);
        this.#requireOpen(channel);
        const name = str(args, 'name').replace(/^:|:$/g, '');
        if (!name) throw new SlackApiError('invalid_name');
        if (!str(args, 'timestamp')) throw new SlackApiError('no_item_specified');
        const message = this.#message(channel, str(args, 'timestamp'));
        let reaction = message.reactions.find((r) => r.name === name);
        if (reaction?.users.includes(ws.botUserId)) throw new SlackApiError('already_reacted');
        if (!reaction) message.reactions.push((reaction = { name, users: [] }));
        reaction.users.push(ws.botUserId);
        return {};
      },

      'users.info': (args) => ({ user: this.#userJson(this.#user(str(args, 'user'))) }),
      'users.list': (args) => {
        const { items, nextCursor } = page([...this.#users.values()], args, 0);
        return {
          members: items.map((u) => this.#userJson(u)),
          cache_ts: Math.floor(Date.now() / 1000),
          response_metadata: { next_cursor: nextCursor },
        };
      },
      'usergroups.list': (args) => ({
        usergroups: [...this.#usergroups.values()].map((g) => ({
          id: g.id,
          team_id: ws.teamId,
          is_usergroup: true,
          name: g.name,
          handle: g.handle,
          user_count: g.users.length,
          ...(bool(args.include_users) ? { users: g.users } : {}),
        })),
      }),
      'usergroups.users.list': (args) => {
        const group = this.#usergroups.get(str(args, 'usergroup'));
        if (!group) throw new SlackApiError('no_such_subteam');
        return { users: [...group.users] };
      },

      'views.open': (args) => {
        const triggerId = this.#useTrigger(args);
        const view = this.#storeView(args, 'views.open', triggerId, undefined);
        return { view: this.#viewJson(view) };
      },
      'views.push': (args) => {
        const triggerId = this.#useTrigger(args);
        const roots = [...this.#views.values()].filter((v) => v.openedBy === 'views.open');
        const root = roots.at(-1);
        if (!root) throw new SlackApiError('not_found');
        const stack = [...this.#views.values()].filter((v) => v.rootViewId === root.id);
        if (stack.length >= LIMITS.viewStack) throw new SlackApiError('push_limit_reached');
        const view = this.#storeView(args, 'views.push', triggerId, { rootViewId: root.id, previousViewId: stack.at(-1)!.id });
        return { view: this.#viewJson(view) };
      },
      'views.update': (args) => {
        const viewId = str(args, 'view_id');
        const externalId = str(args, 'external_id');
        if (!viewId && !externalId)
          throw new SlackApiError('invalid_arguments', {
            response_metadata: { messages: ['[ERROR] either view_id or external_id is required'] },
          });
        const existing = [...this.#views.values()].find((v) => (viewId ? v.id === viewId : v.externalId === externalId));
        if (!existing) throw new SlackApiError('not_found');
        if (str(args, 'hash') && str(args, 'hash') !== existing.hash) throw new SlackApiError('hash_conflict');
        const view = this.#storeView(args, existing.openedBy, existing.triggerId, {
          id: existing.id,
          rootViewId: existing.rootViewId,
          previousViewId: existing.previousViewId,
        });
        return { view: this.#viewJson(view) };
      },

      'files.getUploadURLExternal': (args) => {
        const filename = str(args, 'filename');
        const length = Number(str(args, 'length'));
        if (!filename || !Number.isInteger(length) || length < 0) {
          throw new SlackApiError('invalid_arguments', {
            response_metadata: { messages: ['[ERROR] filename and length are required'] },
          });
        }
        const file: FakeFile = { id: this.#newId('F'), filename, length, title: filename, completed: false, channels: [] };
        this.#files.set(file.id, file);
        return { upload_url: `${this.#origin}/upload/${file.id}`, file_id: file.id };
      },
      'files.completeUploadExternal': (args) => {
        const entries = Array.isArray(args.files) ? (args.files as { id?: unknown; title?: unknown }[]) : [];
        if (entries.length === 0)
          throw new SlackApiError('invalid_arguments', { response_metadata: { messages: ['[ERROR] files is required'] } });
        const files = entries.map((entry) => {
          const file = this.#files.get(String(entry.id));
          if (!file || !file.bytes) throw new SlackApiError('file_not_found');
          return Object.assign(file, { title: typeof entry.title === 'string' ? entry.title : file.title });
        });
        const channelIds = [str(args, 'channel_id'), ...str(args, 'channels').split(',')].filter(Boolean);
        const channels = channelIds.map((id) => this.#postTarget({ channel: id }));
        for (const file of files) file.completed = true;
        for (const channel of channels) {
          for (const file of files) file.channels.push(channel.id);
          const message: FakeMessage = {
            channel: channel.id,
            ts: this.#newTs(),
            user: ws.botUserId,
            text: str(args, 'initial_comment'),
            reactions: [],
            pinned: false,
          };
          message.files = files.map((f) => ({ id: f.id, name: f.filename, title: f.title }));
          if (str(args, 'thread_ts')) message.threadTs = str(args, 'thread_ts');
          this.#messages.push(message);
        }
        return {
          files: files.map((f) => ({
            id: f.id,
            name: f.filename,
            title: f.title,
            size: f.bytes?.length ?? 0,
            channels: f.channels,
          })),
        };
      },
    };
  }

  #useTrigger(args: Args): string {
    const triggerId = str(args, 'trigger_id');
    if (!triggerId && !str(args, 'interactivity_pointer')) {
      throw new SlackApiError('invalid_arguments', {
        response_metadata: { messages: ['[ERROR] missing required field: trigger_id'] },
      });
    }
    // A trigger id opens one view, once (docs.slack.dev/interactivity/handling-user-interaction).
    if (this.#usedTriggers.has(triggerId)) throw new SlackApiError('exchanged_trigger_id');
    this.#usedTriggers.add(triggerId);
    return triggerId;
  }

  #storeView(
    args: Args,
    openedBy: FakeView['openedBy'],
    triggerId: string,
    place: { id?: string; rootViewId: string; previousViewId: string | null } | undefined,
  ): FakeView {
    const view = args.view;
    if (!isRecord(view))
      throw new SlackApiError('invalid_arguments', { response_metadata: { messages: ['[ERROR] missing required field: view'] } });
    const problem = viewProblem(view);
    if (problem) throw new SlackApiError('invalid_arguments', { response_metadata: { messages: [`[ERROR] ${problem}`] } });
    const id = place?.id ?? this.#newId('V');
    const stored: FakeView = {
      id,
      type: String(view.type),
      callbackId: typeof view.callback_id === 'string' ? view.callback_id : '',
      privateMetadata: typeof view.private_metadata === 'string' ? view.private_metadata : '',
      externalId: typeof view.external_id === 'string' ? view.external_id : '',
      hash: `${Date.now()}.${this.#newId('H')}`,
      rootViewId: place?.rootViewId ?? id,
      previousViewId: place?.previousViewId ?? null,
      title: view.title,
      blocks: asArray(view.blocks) ?? [],
      view,
      openedBy,
      triggerId,
    };
    this.#views.set(id, stored);
    return stored;
  }
}

// ---- argument parsing and validation ---------------------------------------------------------

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function parseArgs(contentType: string | undefined, raw: Buffer, query: URLSearchParams): Promise<Args> {
  const args: Args = Object.fromEntries(query);
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') {
    const parsed: unknown = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    if (isRecord(parsed)) Object.assign(args, parsed);
  } else if (type === 'multipart/form-data') {
    const form = await new Response(new Uint8Array(raw), { headers: { 'content-type': contentType! } }).formData();
    for (const [key, value] of form) args[key] = typeof value === 'string' ? value : `<file ${value.size} bytes>`;
  } else if (raw.length) {
    Object.assign(args, Object.fromEntries(new URLSearchParams(raw.toString('utf8'))));
  }
  for (const key of JSON_FIELDS) {
    const value = args[key];
    if (typeof value !== 'string') continue;
    try {
      args[key] = JSON.parse(value);
    } catch {
      // Left as the string; the method answers invalid_*_format when it needs it.
    }
  }
  return args;
}

function writeJson(res: ServerResponse, status: number, body: Args, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
}

function str(args: Args, key: string): string {
  const value = args[key];
  return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}

function bool(value: unknown): boolean {
  return value === true || value === 'true' || value === '1' || value === 1;
}

function isRecord(value: unknown): value is Args {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asArray(value: unknown): unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

/** Slack's channel name rules: lower case letters, digits, hyphens and underscores, 80 characters at most. */
/** document_content: { type: 'markdown', markdown } as canvases take it. */
function canvasMarkdown(args: Args): string {
  const content = args.document_content;
  if (!isRecord(content) || content.type !== 'markdown' || typeof content.markdown !== 'string')
    throw new SlackApiError('invalid_arguments', {
      response_metadata: { messages: ['[ERROR] document_content must be { type: markdown, markdown }'] },
    });
  return content.markdown;
}

export function channelNameProblem(name: string): string | undefined {
  if (!name) return 'invalid_name_required';
  if (name.length > LIMITS.channelName) return 'invalid_name_maxlength';
  if (/^[-_]+$/.test(name)) return 'invalid_name_punctuation';
  if (!/^[a-z0-9_-]+$/.test(name)) return 'invalid_name_specials';
  return undefined;
}

function messageContent(args: Args): { text?: string; blocks?: unknown[]; attachments?: unknown[] } {
  const content: { text?: string; blocks?: unknown[]; attachments?: unknown[] } = {};
  if (args.text !== undefined) content.text = str(args, 'text');
  if (args.blocks !== undefined) {
    if (!Array.isArray(args.blocks)) throw new SlackApiError('invalid_blocks_format');
    const problem = blocksProblem(args.blocks, LIMITS.messageBlocks);
    if (problem)
      throw new SlackApiError('invalid_blocks', { errors: [problem], response_metadata: { messages: [`[ERROR] ${problem}`] } });
    content.blocks = args.blocks;
  }
  if (args.attachments !== undefined) {
    if (!Array.isArray(args.attachments)) throw new SlackApiError('invalid_attachments');
    content.attachments = args.attachments;
  }
  if (!content.text && !content.blocks?.length && !content.attachments?.length) throw new SlackApiError('no_text');
  if ((content.text ?? '').length > LIMITS.text) throw new SlackApiError('msg_too_long');
  return content;
}

function messageMetadata(args: Args): FakeMessage['metadata'] {
  if (args.metadata === undefined) return undefined;
  const metadata = args.metadata;
  if (!isRecord(metadata) || typeof metadata.event_type !== 'string' || !isRecord(metadata.event_payload))
    throw new SlackApiError('invalid_metadata_format');
  return { event_type: metadata.event_type, event_payload: metadata.event_payload };
}

function textOf(value: unknown): string | undefined {
  return isRecord(value) && typeof value.text === 'string' ? value.text : undefined;
}

/** The Block Kit limits Slack rejects a message or view for; undefined when none is broken. */
export function blocksProblem(blocks: unknown[], maxBlocks: number): string | undefined {
  if (blocks.length > maxBlocks) return `no more than ${maxBlocks} items allowed [json-pointer:/blocks]`;
  const blockIds = new Set<string>();
  for (const [i, block] of blocks.entries()) {
    const at = `[json-pointer:/blocks/${i}]`;
    if (!isRecord(block) || typeof block.type !== 'string') return `missing required field: type ${at}`;
    if (typeof block.block_id === 'string') {
      if (blockIds.has(block.block_id)) return `duplicate block_id ${at}`;
      blockIds.add(block.block_id);
    }
    if (block.type === 'section') {
      const text = textOf(block.text);
      const fields = Array.isArray(block.fields) ? block.fields : undefined;
      if (text === undefined && !fields) return `must provide either text or fields ${at}`;
      if (text !== undefined && (text.length === 0 || text.length > LIMITS.sectionText))
        return `must be between 1 and ${LIMITS.sectionText} characters [json-pointer:/blocks/${i}/text/text]`;
      if (fields && fields.length > LIMITS.fields)
        return `no more than ${LIMITS.fields} items allowed [json-pointer:/blocks/${i}/fields]`;
      if (fields?.some((f) => (textOf(f) ?? '').length > LIMITS.fieldText))
        return `must be less than ${LIMITS.fieldText} characters [json-pointer:/blocks/${i}/fields]`;
    }
    if (block.type === 'header' && (textOf(block.text) ?? '').length > LIMITS.headerText)
      return `must be less than ${LIMITS.headerText} characters [json-pointer:/blocks/${i}/text/text]`;
    if ((block.type === 'actions' || block.type === 'context') && !Array.isArray(block.elements))
      return `missing required field: elements ${at}`;
  }
  return undefined;
}

function viewProblem(view: Args): string | undefined {
  if (view.type !== 'modal' && view.type !== 'home') return 'view.type must be modal or home';
  if (!Array.isArray(view.blocks)) return 'missing required field: blocks';
  if (view.type === 'modal') {
    const title = textOf(view.title);
    if (title === undefined) return 'missing required field: title';
    if (title.length > LIMITS.viewTitle)
      return `must be less than ${LIMITS.viewTitle + 1} characters [json-pointer:/view/title/text]`;
  }
  return blocksProblem(view.blocks, LIMITS.viewBlocks);
}

/** Cursor pagination as Slack does it: an opaque next_cursor, '' on the last page; limit 0 means all. */
function page<T>(items: T[], args: Args, defaultLimit: number): { items: T[]; nextCursor: string } {
  const cursor = str(args, 'cursor');
  let offset = 0;
  if (cursor) {
    const match = /^offset:(\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
    if (!match) throw new SlackApiError('invalid_cursor');
    offset = Number(match[1]);
  }
  const limit = Math.min(Number(str(args, 'limit')) || defaultLimit || items.length, 1000) || items.length;
  const slice = items.slice(offset, offset + limit);
  const next = offset + limit < items.length ? Buffer.from(`offset:${offset + limit}`).toString('base64') : '';
  return { items: slice, nextCursor: next };
}
