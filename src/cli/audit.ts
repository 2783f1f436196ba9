// The audit log for changes made from the CLI: actor `cli:<login>`, the same hash chain as the bot's.
import { userInfo } from 'node:os';
import type { Config } from '../config/schema.ts';
import { appendAudit, type AuditEntry } from '../store/audit.ts';
import { openMigratedStore, storeOptions } from '../store/open.ts';

export async function openCliAudit(
  config: Config,
): Promise<{ append(entry: Omit<AuditEntry, 'actor'>): Promise<unknown>; close(): Promise<void> }> {
  const { store } = await openMigratedStore(storeOptions(config));
  const actor = `cli:${userInfo().username}`;
  return {
    append: (entry) => appendAudit(store, { ...entry, actor }, new Date()),
    close: () => store.close(),
  };
}
