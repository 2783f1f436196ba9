// Deliveries from Slack seen by any replica: one row per delivery key, so a re-delivery is not acted on twice.
import { yieldToEventLoop, type Queryable, type Store } from './db.ts';

/**
 * - `new`: first sight (or a takeover of a delivery whose receiver never acknowledged it within staleMs): act on it.
 * - `done`: already acknowledged: acknowledge again, do nothing else.
 * - `in_progress`: another receiver is acting on it now: neither act nor acknowledge (its ack covers this one).
 */
export type DeliveryClaim = 'new' | 'done' | 'in_progress';

/**
 * The claim and the ack mark are written before (and while) Slack is answered, so they do not wait for the disk
 * (QueryOptions.durable): a claim lost with the machine costs nothing, since Slack does not send an acked delivery
 * again, and one never acked may be acted on again after a restart anyway (the takeover below).
 */
const BEFORE_THE_ACK = { durable: false } as const;

/** One statement decides who acts: the insert wins, or the update of a row whose receiver went quiet before its ack. */
export async function claimDelivery(db: Queryable, key: string, at: Date, staleBefore: Date): Promise<DeliveryClaim> {
  const { rowCount } = await db.query(
    `INSERT INTO slack_deliveries (key, received_at) VALUES ($1, $2)
     ON CONFLICT (key) DO UPDATE SET received_at = $2
       WHERE slack_deliveries.acked_at IS NULL AND slack_deliveries.received_at < $3
     RETURNING key`,
    [key, at, staleBefore],
    BEFORE_THE_ACK,
  );
  if (rowCount > 0) return 'new';
  const { rows } = await db.query<{ acked_at: Date | null }>('SELECT acked_at FROM slack_deliveries WHERE key = $1', [key]);
  return rows[0]?.acked_at ? 'done' : 'in_progress';
}

const DELIVERIES_AT_ONCE = 64;

/**
 * Notes deliveries as seen and answered at `at` (those that only a hypothetical retry would repeat): a burst in one
 * insert, or in one transaction when it is larger than a statement takes. Rows go in groups of 64, 32, …, 1, so the
 * statements have seven shapes whatever the burst (the embedded store prepares each shape once).
 */
export async function recordDeliveries(store: Store, keys: readonly string[], at: Date): Promise<void> {
  if (keys.length > DELIVERIES_AT_ONCE) return store.transaction((tx) => insertDeliveries(tx, keys, at));
  return insertDeliveries(store, keys, at);
}

async function insertDeliveries(db: Queryable, keys: readonly string[], at: Date): Promise<void> {
  for (let start = 0; start < keys.length;) {
    // The event loop is free between groups: on the embedded store each statement runs synchronously.
    if (start > 0) await yieldToEventLoop();
    let size = DELIVERIES_AT_ONCE;
    while (size > keys.length - start) size /= 2;
    const values: unknown[] = [at];
    for (let i = start; i < start + size; i += 1) values.push(keys[i]);
    start += size;
    await db.query(insertStatement(size), values);
  }
}

// The INSERT for each group size, made once: $1 is the time, $2… the keys.
const insertStatements = new Map<number, string>();

function insertStatement(rows: number): string {
  let statement = insertStatements.get(rows);
  if (!statement) {
    const values = Array.from({ length: rows }, (_, i) => `($${i + 2}, $1, $1)`);
    statement = `INSERT INTO slack_deliveries (key, received_at, acked_at) VALUES ${values.join(', ')} ON CONFLICT (key) DO NOTHING`;
    insertStatements.set(rows, statement);
  }
  return statement;
}

export async function markDeliveryAcked(db: Queryable, key: string, at: Date): Promise<void> {
  await db.query('UPDATE slack_deliveries SET acked_at = $2 WHERE key = $1 AND acked_at IS NULL', [key, at], BEFORE_THE_ACK);
}

/** Slack re-delivers within minutes; rows older than that only take space. */
export async function pruneDeliveries(db: Queryable, before: Date): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM slack_deliveries WHERE received_at < $1', [before]);
  return rowCount;
}

/** The receiver failed before answering Slack: the next re-delivery may act. */
export async function releaseDelivery(db: Queryable, key: string): Promise<void> {
  await db.query('DELETE FROM slack_deliveries WHERE key = $1 AND acked_at IS NULL', [key]);
}
