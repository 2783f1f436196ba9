// A data folder from before the SQLite store: its PGlite rows come over at the first start, once, with the audit chain intact.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterEach, describe, expect, it } from 'vitest';
import { appendAudit, verifyAuditLog } from '../src/store/audit.ts';
import type { Store } from '../src/store/db.ts';
import { getIncident, listSteps } from '../src/store/incidents.ts';
import { listMigrations, splitStatements } from '../src/store/migrate.ts';
import { openMigratedStore } from '../src/store/open.ts';

const declaredAt = new Date('2026-11-22T15:34:00.123Z');

/** What an earlier version left in DATA_DIR: PGlite at migration 009, with an incident, its steps and audit rows. */
async function olderDataFolder(dir: string): Promise<void> {
  const db = await PGlite.create(join(dir, 'pglite'));
  await db.exec(`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now())`);
  for (const migration of listMigrations('postgres').filter((m) => m.version <= 9)) {
    for (const statement of splitStatements(migration.sql)) await db.query(statement);
    await db.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
      migration.version,
      migration.name,
      migration.checksum,
    ]);
  }
  await db.query(
    `INSERT INTO incidents (declaration_key, title, severity, service, declared_by, declared_at, channel_id, channel_name, setup_done, ack_due_at)
     VALUES ('view:1', 'Audit API down', 'P1', 'rlhf-audit-trail', 'U0ALICE', $1, 'C0INC', 'incident-2026-11-22-1534', true, $2)`,
    [declaredAt, new Date(declaredAt.getTime() + 3_600_000)],
  );
  await db.query(
    `INSERT INTO escalation_steps (incident_id, level, label, notify, due_at, state, posted_at, late)
     VALUES (1, 1, 'Engineering lead', '["S0LEADS"]', $1, 'posted', $1, false), (1, 2, 'Incident commander', '[]', $2, 'pending', NULL, NULL)`,
    [new Date(declaredAt.getTime() + 900_000), new Date(declaredAt.getTime() + 1_800_000)],
  );
  // The audit rows as the old store wrote them, through the same chain code.
  const oldStore = {
    dialect: 'postgres',
    query: async (sql: string, params?: unknown[]) => {
      const result = await db.query(sql, params);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    transaction: async (fn: (tx: unknown) => Promise<unknown>) =>
      db.transaction(async (tx) =>
        fn({
          dialect: 'postgres',
          lock: async () => undefined,
          query: async (sql: string, params?: unknown[]) => {
            const result = await tx.query(sql, params);
            return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
          },
        }),
      ),
  } as unknown as Store;
  for (let i = 1; i <= 3; i += 1)
    await appendAudit(
      oldStore,
      { actor: 'U0ALICE', action: 'command', target: '/incident', params: { text: `note ${i}` } },
      declaredAt,
    );
  await db.close();
}

describe('an embedded data folder from an earlier version (PGlite)', () => {
  let dir: string;
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is imported into SQLite at the first start, with every row and an intact audit chain, and moved aside', async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-pglite-import-'));
    await olderDataFolder(dir);
    const opened = await openMigratedStore({ dataDir: dir });
    store = opened.store;
    expect(store.dialect).toBe('sqlite');
    expect(opened.imported?.rows).toBeGreaterThanOrEqual(6);
    const incident = await getIncident(store, 1);
    expect(incident).toMatchObject({ title: 'Audit API down', severity: 'P1', channel_id: 'C0INC', setup_done: true });
    expect(incident!.declared_at).toEqual(declaredAt);
    const steps = await listSteps(store, 1);
    expect(steps.map((step) => [step.level, step.state, step.notify])).toEqual([
      [1, 'posted', ['S0LEADS']],
      [2, 'pending', []],
    ]);
    expect(await verifyAuditLog(store)).toEqual({ ok: true, rowsChecked: 3 });
    expect(existsSync(join(dir, 'pglite'))).toBe(false);
    expect(readdirSync(dir).some((name) => name.startsWith('pglite-imported-'))).toBe(true);

    // The next start finds nothing to import, and the chain goes on.
    await store.close();
    const again = await openMigratedStore({ dataDir: dir });
    store = again.store;
    expect(again.imported).toBeUndefined();
    await appendAudit(store, { actor: 'U0BOB', action: 'command' }, new Date());
    expect(await verifyAuditLog(store)).toEqual({ ok: true, rowsChecked: 4 });
  }, 120_000);
});
