// The shapes of a backup: what it needs, what is asked, what it produced; shared by the files of this folder and its callers.
import type { S3Client } from '@aws-sdk/client-s3';
import type { KubernetesClients } from '../../clients/kubernetes.ts';
import type { Clock } from '../../clock.ts';
import type { ServiceConfig } from '../../config/schema.ts';
import { ConfigError, errorMessage } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Store } from '../../store/db.ts';
import type { BackupKind } from './keys.ts';
import type { DatabaseInfo } from './pg-tools.ts';
import type { RetentionResult } from './retention.ts';

export const BACKUP_KINDS = ['database', 'config', 'full'] as const;
export type BackupRequestKind = (typeof BACKUP_KINDS)[number];

export type BackupSettings = NonNullable<ServiceConfig['backup']>;

export interface BackupDeps {
  store: Store;
  s3: S3Client;
  clock: Clock;
  log: Logger;
  /** Kubernetes clients for a context (config backups); the service's own context, else the configured one. */
  kubernetes?: (context: string | undefined) => KubernetesClients | Promise<KubernetesClients>;
}

export interface BackupProgress {
  kind: BackupKind;
  /** Bytes streamed into S3 so far (after encryption). */
  bytes: number;
  elapsedMs: number;
  bytesPerSecond: number;
}

export interface BackupRequest {
  service: string;
  config: ServiceConfig;
  kind: BackupRequestKind;
  /** Where the variables named in the config (database URL, keys) are read. */
  env: Readonly<Record<string, string | undefined>>;
  trigger: 'slack' | 'cli' | 'schedule';
  requestedBy?: string | undefined;
  /** The keys to write, as shown when the backup was asked for; default: named after the start time. */
  keys?: Partial<Record<BackupKind, string>> | undefined;
  /** Stops the backup (the bot shutting down, a time limit); whatever was uploaded is aborted. */
  signal?: AbortSignal | undefined;
  /** Called at most once per progressIntervalMs while bytes flow. */
  onProgress?: ((progress: BackupProgress) => void) | undefined;
  progressIntervalMs?: number;
  /** The pg_dump to run; default `pg_dump` on PATH. */
  pgDumpPath?: string;
  /** pg_dump (through gpg) giving no byte for this long has stalled: it is stopped and the backup fails (timeouts.pgToolStall). */
  pgToolStallMs?: number;
  partSizeBytes?: number;
  maxPartsInFlight?: number;
  /** How long the per-service lock holds without renewal (renewed every third of it). */
  lockLeaseMs?: number;
}

export interface BackupObject {
  kind: BackupKind;
  bucket: string;
  key: string;
  manifestKey: string;
  sizeBytes: number;
  sha256: string;
  /** Fingerprint of the OpenPGP recipient key, when encrypted. */
  recipient: string | null;
  serverSideEncryption: string | null;
  durationMs: number;
  /** database: what was dumped. */
  database?: DatabaseInfo;
  pgDumpVersion?: string | null;
  /** config: objects saved per kind. */
  objectCounts?: Record<string, number>;
}

export interface BackupResult {
  ok: boolean;
  service: string;
  kind: BackupRequestKind;
  objects: BackupObject[];
  /** Each part that failed, and exactly why. Nothing of a failed part is left in the bucket. */
  failures: Array<{ kind: BackupKind | 'lock'; reason: string }>;
  retention: RetentionResult[];
  /** Things worth knowing that did not fail the backup (secrets skipped, retention trouble). */
  notes: string[];
  durationMs: number;
}

/** One line: a ConfigError's issues without its "Invalid configuration" heading. */
export function failureReason(error: unknown): string {
  return error instanceof ConfigError ? error.issues.join('; ') : errorMessage(error);
}
