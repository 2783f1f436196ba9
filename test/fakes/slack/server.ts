// The fake Slack's HTTP side: the server on loopback, the router (Web API methods, response URLs, upload URLs), token
// checks, call recording, and the refusals and faults a test injects. What each method does is in its area's file.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeFaults, FakeRateLimits, type FaultKind, type FaultOptions, type RateLimitOptions } from '../slack-limits.ts';
import { isRecord } from './args.ts';
import { authMethods, authenticate, authenticateApp } from './auth.ts';
import { CallLog } from './calls.ts';
import { applyResponse, chatMethods } from './chat.ts';
import { conversationMethods } from './conversations.ts';
import { canvasAndFileMethods } from './files.ts';
import { SlackState } from './state.ts';
import {
  LIMITS,
  SlackApiError,
  type Args,
  type ChannelSeed,
  type FAKE_WORKSPACE,
  type FailOptions,
  type FakeCanvas,
  type FakeChannel,
  type FakeEphemeral,
  type FakeFile,
  type FakeMessage,
  type FakeResponse,
  type FakeSlackOptions,
  type FakeUser,
  type FakeUsergroup,
  type FakeView,
  type Handler,
  type RecordedCall,
  type ResponseUrlTarget,
  type UserSeed,
  type UsergroupSeed,
} from './types.ts';
import { userMethods } from './users.ts';
import { viewMethods } from './views.ts';

// Fields the Web API client JSON-encodes inside form bodies.
const JSON_FIELDS = new Set(['blocks', 'attachments', 'view', 'metadata', 'files', 'document_content']);

/** Starts a fake Slack Web API on 127.0.0.1 at a free port; point WebClient's `slackApiUrl` at `fake.url`. */
export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const fake = new FakeSlack(options);
  await fake.listen();
  return fake;
}

export class FakeSlack {
  readonly #state: SlackState;
  readonly #server: Server;
  readonly #handlers: Record<string, Handler>;
  readonly #calls = new CallLog();
  #responseUrls = new Map<string, ResponseUrlTarget & { uses: number }>();
  #responses: FakeResponse[] = [];
  #failures = new Map<string, { error: string; retryAfterSeconds: number }[]>();
  #delays = new Map<string, number>();
  #limits: FakeRateLimits | undefined;
  readonly #faults = new FakeFaults();
  readonly #hung = new Set<ServerResponse>();

  constructor(options: FakeSlackOptions = {}) {
    this.#state = new SlackState(options);
    this.#server = createServer((req, res) => {
      this.#route(req, res).catch((error: unknown) => {
        if (!res.headersSent) writeJson(res, 500, { ok: false, error: 'fake_slack_bug', detail: String(error) });
      });
    });
    const s = this.#state;
    this.#handlers = {
      ...authMethods(s),
      ...conversationMethods(s),
      ...chatMethods(s),
      ...canvasAndFileMethods(s),
      ...userMethods(s),
      ...viewMethods(s),
    };
  }

  /** A bot token this fake accepts: the first of `options.tokens`, else a made-up xoxb- token. */
  get token(): string {
    return this.#state.options.tokens?.[0] ?? 'xoxb-fake-slack-token';
  }

  /** `http://127.0.0.1:PORT/api/`: WebClient's `slackApiUrl`. */
  get url(): string {
    return `${this.#state.origin}/api/`;
  }

  get workspace(): typeof FAKE_WORKSPACE {
    return this.#state.workspace;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = this.#server.address() as AddressInfo;
    this.#state.origin = `http://127.0.0.1:${port}`;
  }

  async close(): Promise<void> {
    for (const res of this.#hung) res.destroy();
    this.#hung.clear();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Back to the seeded workspace: forgets calls, messages, views, files, responses, injected faults and delays. */
  reset(): void {
    this.#state.reset();
    this.#responseUrls.clear();
    this.#responses = [];
    this.#calls.clear();
    this.#failures.clear();
    this.#delays.clear();
    this.#limits = undefined;
    this.#faults.reset();
  }

  // ---- seeding -------------------------------------------------------------------------------

  addUser(seed: UserSeed): FakeUser {
    return structuredClone(this.#state.addUser(seed));
  }

  /** Pre-creates a channel (archived ones too); throws when the name is taken, as conversations.create would refuse. */
  addChannel(seed: ChannelSeed): FakeChannel {
    return structuredClone(this.#state.addChannel(seed));
  }

  addUsergroup(seed: UsergroupSeed): FakeUsergroup {
    return structuredClone(this.#state.addUsergroup(seed));
  }

  /** A message from someone else (for shortcuts and reactions); the bot cannot update or delete it. */
  seedMessage(channel: string, message: { user: string; text: string; blocks?: unknown[]; threadTs?: string }): FakeMessage {
    const target = this.#state.resolveChannel(channel);
    if (!target) throw new Error(`fake-slack: no channel ${channel}`);
    const stored: FakeMessage = { channel: target.id, ts: this.#state.newTs(), reactions: [], pinned: false, ...message };
    this.#state.messages.push(stored);
    return structuredClone(stored);
  }

  /** A response URL served by this fake; POSTs to it are recorded (see responses()). */
  newResponseUrl(target: ResponseUrlTarget = {}): string {
    const id = this.#state.newId('R').toLowerCase();
    this.#responseUrls.set(id, { ...target, uses: 0 });
    return `${this.#state.origin}/response/${id}`;
  }

  // ---- inspection ----------------------------------------------------------------------------

  /** Every call in arrival order, optionally of one method. */
  calls(method?: string): RecordedCall[] {
    return this.#calls.list(method);
  }

  /** Current messages (after updates, without deleted ones) in post order, optionally of one channel (id or name). */
  messages(channel?: string): FakeMessage[] {
    const id = channel === undefined ? undefined : (this.#state.resolveChannel(channel)?.id ?? channel);
    return structuredClone(id === undefined ? this.#state.messages : this.#state.messages.filter((m) => m.channel === id));
  }

  ephemerals(channel?: string, user?: string): FakeEphemeral[] {
    const id = channel === undefined ? undefined : (this.#state.resolveChannel(channel)?.id ?? channel);
    return structuredClone(
      this.#state.ephemerals.filter((e) => (id === undefined || e.channel === id) && (user === undefined || e.user === user)),
    );
  }

  /** Bodies posted to response URLs, optionally to one (its id or the whole URL). */
  responses(responseUrlId?: string): FakeResponse[] {
    const id = responseUrlId?.split('/').pop();
    return structuredClone(id === undefined ? this.#responses : this.#responses.filter((r) => r.id === id));
  }

  channelByName(name: string): FakeChannel | undefined {
    const channel = this.#state.findByName(name);
    return channel && structuredClone(channel);
  }

  channel(id: string): FakeChannel | undefined {
    const channel = this.#state.channels.get(id);
    return channel && structuredClone(channel);
  }

  channels(): FakeChannel[] {
    return structuredClone([...this.#state.channels.values()]);
  }

  views(): FakeView[] {
    return structuredClone([...this.#state.views.values()]);
  }

  canvases(): FakeCanvas[] {
    return [...this.#state.canvases.values()].map((canvas) => ({ ...canvas }));
  }

  /** Canvases are not allowed in this workspace: canvases.create and conversations.canvases.create answer `error`. */
  refuseCanvases(error: 'not_allowed' | 'team_tier_cannot_create_canvases' | 'canvas_disabled_user_team' = 'not_allowed'): void {
    this.#state.canvasRefusal = error;
  }

  files(): FakeFile[] {
    return [...this.#state.files.values()].map((f) => ({ ...f, channels: [...f.channels] }));
  }

  /**
   * Resolves with the first recorded call that matches, including ones already recorded (use `seq` or `at` in the
   * predicate to skip those). A method name matches any call of that method. The call's effects are visible when it resolves.
   */
  waitFor(match: string | ((call: RecordedCall) => boolean), timeoutMs = 5_000): Promise<RecordedCall> {
    return this.#calls.waitFor(match, timeoutMs);
  }

  /** Resolves when a matching call arrives, before any delay and before it is processed (waitFor resolves after). */
  waitForArrival(match: string | ((call: RecordedCall) => boolean), timeoutMs = 5_000): Promise<RecordedCall> {
    return this.#calls.waitForArrival(match, timeoutMs);
  }

  /**
   * Answers apps.connections.open for an app token (fake-socket-mode.ts): `open` gives the WebSocket URL or a Slack
   * error code (too_many_websockets). Another xapp- token is invalid_auth; a bot token is not_allowed_token_type.
   */
  serveSocketMode(appToken: string, open: () => { url: string } | { error: string }): void {
    this.#state.socketMode = { appToken, open };
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
    const url = new URL(req.url ?? '/', this.#state.origin);
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
    const call: RecordedCall = { seq: this.#calls.nextSeq(), method, args, at, token, status: 200 };
    this.#calls.arrived(call);

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
      this.#calls.record(call);
      if (fault === 'drop_before') res.socket?.destroy();
      else res.writeHead(500, { 'content-type': 'text/html' }).end('<html><body>500 Internal Server Error</body></html>');
      return;
    }
    try {
      if (!handler) throw new SlackApiError('unknown_method');
      if (method === 'apps.connections.open') authenticateApp(this.#state, token);
      else if (method !== 'api.test') authenticate(this.#state, token);
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
    this.#calls.record(call);
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
      seq: this.#calls.nextSeq(),
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
      this.#calls.record(call);
      writeJson(
        res,
        call.status,
        { ok: false, error },
        error === 'ratelimited' ? { 'retry-after': String(failure?.retryAfterSeconds ?? 1) } : {},
      );
      return;
    }
    target!.uses += 1;
    applyResponse(this.#state, target!, body);
    this.#responses.push({ id, url: `${this.#state.origin}/response/${id}`, body, at });
    this.#calls.record(call);
    writeJson(res, 200, { ok: true });
  }

  async #upload(fileId: string, req: IncomingMessage, raw: Buffer, at: number, res: ServerResponse): Promise<void> {
    const file = this.#state.files.get(fileId);
    const call: RecordedCall = { seq: this.#calls.nextSeq(), method: 'file_upload', args: { fileId, bytes: 0 }, at, status: 200 };
    if (!file) {
      call.status = 404;
      call.error = 'file_not_found';
      this.#calls.record(call);
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
    this.#calls.record(call);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`OK - ${bytes.length}`);
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
