// Privacy budget snapshots: one row per reading of a service's budget, read back as its history.
import type { Queryable } from './db.ts';

export interface BudgetSnapshot {
  service: string;
  taken_at: Date;
  total_epsilon: number;
  consumed_epsilon: number;
  remaining_epsilon: number;
  days_until_reset: number;
}

export async function insertBudgetSnapshot(db: Queryable, snapshot: BudgetSnapshot): Promise<void> {
  await db.query(
    `INSERT INTO privacy_budget_snapshots (service, taken_at, total_epsilon, consumed_epsilon, remaining_epsilon, days_until_reset)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      snapshot.service,
      snapshot.taken_at,
      snapshot.total_epsilon,
      snapshot.consumed_epsilon,
      snapshot.remaining_epsilon,
      snapshot.days_until_reset,
    ],
  );
}

/** A service's snapshots taken at or after `since`, oldest first. */
export async function budgetSnapshotsSince(db: Queryable, service: string, since: Date): Promise<BudgetSnapshot[]> {
  const { rows } = await db.query<BudgetSnapshot>(
    `SELECT service, taken_at, total_epsilon, consumed_epsilon, remaining_epsilon, days_until_reset
       FROM privacy_budget_snapshots WHERE service = $1 AND taken_at >= $2 ORDER BY taken_at, id`,
    [service, since],
  );
  return rows.map((row) => ({ ...row, taken_at: new Date(row.taken_at) }));
}
