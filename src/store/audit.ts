// The append-only audit log: each row carries the SHA-256 of the previous one, so edits and deletions show.
import { createHash } from 'node:crypto';
import { redactValue } from '../log.ts';
import { yieldToEventLoop, type Queryable, type Store } from './db.ts';
import { LOCK_IDS } from './locks.ts';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditEntry {
  /** Slack user id, or "cli:<user>", "schedule", "alertmanager", "system". */
  actor: string;
  /** e.g. command, denied, confirmation.requested, confirmation.confirmed, confirmation.cancelled, task.outcome */
  action: string;
  /** The service, incident or object acted on. */
  target?: string | null | undefined;
  channel?: string | null | undefined;
  /** Parameters as given; secrets are removed before they are stored. */
  params?: Record<string, unknown>;
  result?: string | null | undefined;
}

export interface AuditRow {
  seq: number;
  at: Date;
  actor: string;
  action: string;
  target: string | null;
  channel: string | null;
  params: Record<string, unknown>;
  result: string | null;
  prev_hash: string;
  hash: string;
}

/** Appends one entry at `at`; returns the stored row. */
export async function appendAudit(store: Store, entry: AuditEntry, at: Date): Promise<AuditRow> {
  return (await appendAuditBatch(store, [{ entry, at }]))[0]!;
}

/** Appends entries in order in one transaction: one lock and one head update for the lot. */
export async function appendAuditBatch(store: Store, items: ReadonlyArray<{ entry: AuditEntry; at: Date }>): Promise<AuditRow[]> {
  const pending = items.map(({ entry, at }) => pendingRow(entry, at));
  const chain = await writeRows(store, pending);
  return pending.map((row, i) => storedRow(row, chain, i));
}

/**
 * An entry as it waits for its place in the chain: its parameters already redacted and written as the canonical JSON
 * that is hashed and stored, its time in milliseconds. One object and a few strings, so that the entries of a burst,
 * which wait for their batch, cost the garbage collector little.
 */
interface PendingRow {
  at: number;
  actor: string;
  action: string;
  target: string | null;
  channel: string | null;
  params: string;
  result: string | null;
}

function pendingRow(entry: AuditEntry, at: Date): PendingRow {
  return {
    at: Math.floor(at.getTime()),
    actor: entry.actor,
    action: entry.action,
    target: entry.target ?? null,
    channel: entry.channel ?? null,
    params: canonicalJson(redactValue(entry.params ?? {})),
    result: entry.result ?? null,
  };
}

/** Where a batch went in the chain: the seq of its first row, the hash before it, and each row's hash. */
interface Chained {
  firstSeq: number;
  before: string;
  hashes: string[];
}

function storedRow(row: PendingRow, chain: Chained, i: number): AuditRow {
  return {
    seq: chain.firstSeq + i,
    at: new Date(row.at),
    actor: row.actor,
    action: row.action,
    target: row.target,
    channel: row.channel,
    params: JSON.parse(row.params) as Record<string, unknown>,
    result: row.result,
    prev_hash: i === 0 ? chain.before : chain.hashes[i - 1]!,
    hash: chain.hashes[i]!,
  };
}

/** Chains and inserts rows in order in one transaction. */
function writeRows(store: Store, rows: readonly PendingRow[]): Promise<Chained> {
  return store.transaction(async (tx) => {
    // Appends are serialised across replicas so the chain has no forks.
    await tx.lock(LOCK_IDS.audit);
    const head = await tx.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_head');
    const { seq: headSeq, hash: before } = head.rows[0] ?? { seq: 0, hash: GENESIS_HASH };
    const hashes: string[] = [];
    let prev = before;
    // Hashed and inserted in parts of ROWS_AT_ONCE rows, the event loop free in between, so no ack waits behind the
    // whole batch; each part in statements of at most ROWS_PER_STATEMENT rows, in sizes 64, 32, … 1 (few statement
    // shapes: the embedded store prepares each once).
    const perStatement = ROWS_PER_STATEMENT[tx.dialect];
    for (let start = 0, size = ROWS_AT_ONCE; start < rows.length; start += size) {
      if (start > 0) await yieldToEventLoop();
      while (size > rows.length - start) size /= 2;
      const values: unknown[] = [];
      for (let index = start; index < start + size; index += 1) {
        const row = rows[index]!;
        const seq = headSeq + index + 1;
        const at = new Date(row.at);
        const hash = chainHash(
          prev,
          seq,
          row.action,
          row.actor,
          at.toISOString(),
          row.channel,
          row.params,
          row.result,
          row.target,
        );
        values.push(seq, at, row.actor, row.action, row.target, row.channel, row.params, row.result, prev, hash);
        hashes.push(hash);
        prev = hash;
      }
      for (let offset = 0, count = perStatement; offset < size; offset += count) {
        while (count > size - offset) count /= 2;
        const part = count === size ? values : values.slice(offset * 10, (offset + count) * 10);
        await tx.query(insertStatement(count), part);
      }
    }
    await tx.query(
      `INSERT INTO audit_head (id, seq, hash) VALUES ($3, $1, $2)
       ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash`,
      [headSeq + rows.length, prev, true],
    );
    return { firstSeq: headSeq + 1, before, hashes };
  });
}

/** How long the first append of a batch waits for others. */
const GATHER_MS = 100;
/** Rows per transaction at most. */
const BATCH_ROWS = 500;

/** A row waiting in the writer; `done` is set for appends whose caller waits for the stored row. */
type QueuedRow = PendingRow & { done?: { resolve: (row: AuditRow) => void; reject: (error: unknown) => void } };

export interface AuditWriterOptions {
  /** What a batch waits for before it is hashed and written (the bot's acks go first: src/ack-first.ts). */
  waitTurn?: () => Promise<void>;
  /** Given each batch's write, so a drain (and a test's idle()) waits for rows not yet written. */
  track?: (write: Promise<unknown>) => void;
  /** A batch that could not be written: its rows recorded with `record` (appends are rejected instead). */
  onLost?: (error: unknown, rows: number) => void;
}

/**
 * Appends through one queue per process: entries that arrive while a write is in flight go together in the next
 * transaction (group commit), so a burst of commands takes one connection and one lock, not one each.
 */
export class AuditWriter {
  readonly #store: Store;
  readonly #options: AuditWriterOptions;
  #queue: QueuedRow[] = [];
  #draining = false;

  constructor(store: Store, options: AuditWriterOptions = {}) {
    this.#store = store;
    this.#options = options;
  }

  /** Appends an entry; resolves with its row once committed. */
  append(entry: AuditEntry, at: Date): Promise<AuditRow> {
    return new Promise((resolve, reject) => this.#enqueue({ ...pendingRow(entry, at), done: { resolve, reject } }));
  }

  /**
   * Appends an entry nobody waits for (a request's own row): no promise per entry, and the entry is kept as a single
   * small object until its batch is written. A batch that fails is reported through `onLost`.
   */
  record(entry: AuditEntry, at: Date): void {
    this.#enqueue(pendingRow(entry, at));
  }

  #enqueue(row: QueuedRow): void {
    this.#queue.push(row);
    if (this.#draining) return;
    this.#draining = true;
    const written = this.#drain();
    this.#options.track?.(written);
  }

  async #drain(): Promise<void> {
    // The appends of the next moment go together: on the embedded store a commit is synchronous and waits for the disk
    // (a few ms in which no ack is sent), and on PostgreSQL each transaction is a few round trips; so a burst of
    // commands is written once every GATHER_MS rather than once each. Nobody waits for the row but the request's end.
    await new Promise((resolve) => setTimeout(resolve, GATHER_MS));
    await this.#options.waitTurn?.();
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, BATCH_ROWS);
      try {
        const chain = await writeRows(this.#store, batch);
        batch.forEach((row, i) => row.done?.resolve(storedRow(row, chain, i)));
      } catch (error) {
        let lost = 0;
        for (const row of batch) {
          if (row.done) row.done.reject(error);
          else lost += 1;
        }
        if (lost > 0) this.#options.onLost?.(error, lost);
      }
    }
    this.#draining = false;
  }
}

// Rows hashed and written between two turns of the event loop: on the embedded store about 0.3 ms, in which nothing
// else runs.
const ROWS_AT_ONCE = 64;

/**
 * Rows per INSERT at most. PostgreSQL: a part in one statement, one round trip. SQLite: its cost per row grows with
 * the statement's rows, for rows this wide (ten values, two hashes): measured with node:sqlite, 2 µs a row with 4 or 8
 * rows to a statement, 3 µs with 16, 5.7 µs with 32 and 9.3 µs with 64.
 */
const ROWS_PER_STATEMENT: Record<Store['dialect'], number> = { postgres: 64, sqlite: 8 };

// The INSERT for each statement size, made once: a statement has 64, 32, … or 1 rows.
const insertStatements = new Map<number, string>();

function insertStatement(rows: number): string {
  let statement = insertStatements.get(rows);
  if (!statement) {
    const values = Array.from(
      { length: rows },
      (_, i) => `(${Array.from({ length: 10 }, (_, k) => `$${i * 10 + k + 1}`).join(', ')})`,
    );
    statement = `INSERT INTO audit_log (seq, at, actor, action, target, channel, params, result, prev_hash, hash)
     VALUES ${values.join(', ')}`;
    insertStatements.set(rows, statement);
  }
  return statement;
}

/** SHA-256 over the previous hash and the row's canonical JSON (keys sorted, so jsonb's reordering does not matter). */
export function hashAuditRow(row: Omit<AuditRow, 'hash'>): string {
  return chainHash(
    row.prev_hash,
    row.seq,
    row.action,
    row.actor,
    row.at.toISOString(),
    row.channel,
    canonicalJson(row.params),
    row.result,
    row.target,
  );
}

/**
 * The row's object is written out in its keys' sorted order (action, actor, at, channel, params, result, seq, target),
 * exactly as canonicalJson would write it, without building and sorting it for every row. A field that is undefined is
 * left out, as canonicalJson leaves it out.
 */
function chainHash(
  prevHash: string,
  seq: number,
  action: string,
  actor: string,
  at: string,
  channel: string | null | undefined,
  params: string,
  result: string | null | undefined,
  target: string | null | undefined,
): string {
  let body = `{"action":${JSON.stringify(action)},"actor":${JSON.stringify(actor)},"at":${JSON.stringify(at)}`;
  if (channel !== undefined) body += `,"channel":${canonicalJson(channel)}`;
  body += `,"params":${params}`;
  if (result !== undefined) body += `,"result":${canonicalJson(result)}`;
  body += `,"seq":${canonicalJson(seq)}`;
  if (target !== undefined) body += `,"target":${canonicalJson(target)}`;
  return createHash('sha256').update(prevHash).update('\n').update(`${body}}`).digest('hex');
}

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  // Written with plain loops: it runs for every audit row, and the entries/filter/sort/map version made five arrays
  // and a closure per object. Object.keys(…).sort() orders keys as the `<` comparison does (UTF-16 code units).
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i += 1) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  out = '{';
  for (const key of Object.keys(record).sort()) {
    const item = record[key];
    if (item === undefined) continue;
    out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${canonicalJson(item)}`;
  }
  return `${out}}`;
}

export interface AuditVerification {
  ok: boolean;
  rowsChecked: number;
  /** The first row where the chain breaks, and why. */
  firstBroken?: { seq: number; reason: string };
}

/** Walks the whole chain in order and names the first row that was edited, deleted or inserted out of turn. */
export async function verifyAuditLog(store: Queryable, batchSize = 1_000): Promise<AuditVerification> {
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let checked = 0;
  for (;;) {
    const { rows } = await store.query<AuditRow>(
      `SELECT seq, at, actor, action, target, channel, params, result, prev_hash, hash
       FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2`,
      [expectedSeq, batchSize],
    );
    for (const row of rows) {
      if (row.seq !== expectedSeq) {
        return broken(
          checked,
          expectedSeq,
          `row ${expectedSeq} is missing (deleted): the chain jumps from row ${expectedSeq - 1} to row ${row.seq}`,
        );
      }
      if (row.prev_hash !== prevHash) {
        return broken(
          checked,
          row.seq,
          `its previous-row hash does not match row ${row.seq - 1} (a row before it was changed or replaced)`,
        );
      }
      if (hashAuditRow(row) !== row.hash) {
        return broken(checked, row.seq, 'its contents do not match its hash (the row was edited)');
      }
      prevHash = row.hash;
      expectedSeq += 1;
      checked += 1;
    }
    if (rows.length < batchSize) break;
  }
  const head = await store.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_head');
  const headRow = head.rows[0];
  if (headRow && (headRow.seq !== expectedSeq - 1 || headRow.hash !== prevHash)) {
    return broken(
      checked,
      Math.min(headRow.seq, expectedSeq),
      headRow.seq > expectedSeq - 1
        ? `rows ${expectedSeq} to ${headRow.seq} are missing (deleted from the end of the log)`
        : `the recorded head (row ${headRow.seq}) does not match the last row (${expectedSeq - 1})`,
    );
  }
  return { ok: true, rowsChecked: checked };
}

function broken(checked: number, seq: number, reason: string): AuditVerification {
  return { ok: false, rowsChecked: checked, firstBroken: { seq, reason } };
}

/** The recorded head of the chain (seq 0 and the genesis hash for an empty log). */
export async function readAuditHead(store: Queryable): Promise<{ seq: number; hash: string }> {
  const { rows } = await store.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_head');
  return rows[0] ? { seq: Number(rows[0].seq), hash: rows[0].hash } : { seq: 0, hash: GENESIS_HASH };
}

/** The stored hash of each of these rows (rows that are not there are left out). */
export async function auditHashesAt(store: Queryable, seqs: readonly number[]): Promise<Map<number, string>> {
  const hashes = new Map<number, string>();
  const wanted = [...new Set(seqs.filter((seq) => seq > 0))];
  for (let start = 0; start < wanted.length; start += 500) {
    const batch = wanted.slice(start, start + 500);
    const { rows } = await store.query<{ seq: number; hash: string }>(
      `SELECT seq, hash FROM audit_log WHERE seq IN (${batch.map((_, i) => `$${i + 1}`).join(', ')})`,
      batch,
    );
    for (const row of rows) hashes.set(Number(row.seq), row.hash);
  }
  return hashes;
}

/** The highest row number in the log (0 when it is empty). */
export async function lastAuditSeq(store: Queryable): Promise<number> {
  const { rows } = await store.query<{ seq: number | null }>('SELECT MAX(seq) AS seq FROM audit_log');
  return Number(rows[0]?.seq ?? 0);
}
