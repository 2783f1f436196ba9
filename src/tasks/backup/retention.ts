// Retention: a service's backups older than its retention period are deleted with their manifests, never the newest verified one.
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3ErrorMessage } from '../../clients/s3.ts';
import { listStoredBackups } from './catalog.ts';
import { manifestKey, type BackupKind } from './keys.ts';

export interface RetentionOptions {
  s3: S3Client;
  bucket: string;
  prefix: string;
  service: string;
  kind: BackupKind;
  retentionDays: number;
  now: Date;
  signal?: AbortSignal;
}

export interface RetentionResult {
  kind: BackupKind;
  /** Backup keys deleted (their manifests went with them). */
  deleted: string[];
  /** Backups left in place. */
  kept: number;
  /** What could not be deleted, and why; the rest was still done. */
  failures: string[];
}

export async function applyRetention(options: RetentionOptions): Promise<RetentionResult> {
  const { s3, bucket, kind } = options;
  const backups = await listStoredBackups(s3, bucket, options.prefix, options.service, kind, options.signal);
  const cutoff = options.now.getTime() - options.retentionDays * 86_400_000;
  const newestVerified = backups.find((backup) => backup.verified)?.key;
  const expired = backups.filter((backup) => backup.lastModified.getTime() < cutoff && backup.key !== newestVerified);
  const deleted: string[] = [];
  const failures: string[] = [];
  for (const backup of expired) {
    if (options.signal?.aborted) {
      failures.push(`stopped before deleting ${expired.length - deleted.length - failures.length} more`);
      break;
    }
    try {
      // The backup first: a manifest without its backup is harmless, the reverse would look unverified.
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: backup.key }));
      if (backup.verified) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: manifestKey(backup.key) }));
      deleted.push(backup.key);
    } catch (error) {
      failures.push(`${backup.key}: ${s3ErrorMessage(error)}`);
    }
  }
  return { kind, deleted, kept: backups.length - deleted.length, failures };
}
