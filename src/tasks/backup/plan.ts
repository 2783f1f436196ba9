// What a backup will write, and where: the confirmation shows the plan and the run writes exactly its keys.
import { backupKey, type BackupKind } from './keys.ts';
import type { BackupRequestKind, BackupSettings } from './model.ts';

export interface BackupPlan {
  bucket: string;
  steps: Array<{ kind: BackupKind; key: string }>;
  encrypted: boolean;
  serverSideEncryption: string | null;
  retentionDays: number;
  prefix: string;
  /** Secrets are saved only when asked for and encrypted. */
  includesSecrets: boolean;
}

export function planBackup(service: string, settings: BackupSettings, kind: BackupRequestKind, at: Date): BackupPlan {
  const encrypted = Boolean(settings.encryption);
  const kinds: BackupKind[] = kind === 'full' ? ['database', 'config'] : [kind];
  return {
    bucket: settings.bucket,
    prefix: settings.prefix,
    steps: kinds.map((step) => ({ kind: step, key: backupKey(settings.prefix, service, step, at, encrypted) })),
    encrypted,
    serverSideEncryption: settings.serverSideEncryption ?? null,
    retentionDays: settings.retentionDays,
    includesSecrets: settings.includeSecrets && encrypted,
  };
}
