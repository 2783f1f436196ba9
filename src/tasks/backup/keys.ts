// How a backup is named in the bucket: <prefix><service>-<kind>-<stamp>.dump|yaml[.gpg], and its manifest beside it.
export type BackupKind = 'database' | 'config';

const KIND_EXTENSION: Record<BackupKind, string> = { database: 'dump', config: 'yaml' };
const MANIFEST_SUFFIX = '.manifest.json';

/** 2026-11-22T02:00:00.123Z → "20261122T020000.123Z": sortable, and unique per backup of a service (backups never overlap). */
export function keyStamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '');
}

/** `<prefix><service>-<kind>-<stamp>.dump|yaml[.gpg]`, e.g. database/daily/rlhf-audit-trail-database-20261122T020000.000Z.dump.gpg. */
export function backupKey(prefix: string, service: string, kind: BackupKind, at: Date, encrypted: boolean): string {
  return `${prefix}${service}-${kind}-${keyStamp(at)}.${KIND_EXTENSION[kind]}${encrypted ? '.gpg' : ''}`;
}

export function manifestKey(key: string): string {
  return `${key}${MANIFEST_SUFFIX}`;
}

export function backupKeyPattern(prefix: string, service: string, kind: BackupKind): RegExp {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escape(`${prefix}${service}-${kind}-`)}(\\d{8}T\\d{6}\\.\\d{3}Z)\\.${KIND_EXTENSION[kind]}(\\.gpg)?$`);
}
