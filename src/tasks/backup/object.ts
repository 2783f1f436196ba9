// One object of a backup: streamed into S3, then checksum metadata, HeadObject verification, the manifest in the bucket and the store; on failure the object goes.
import { DeleteObjectCommand, type ServerSideEncryption } from '@aws-sdk/client-s3';
import { s3ErrorMessage } from '../../clients/s3.ts';
import type { Clock } from '../../clock.ts';
import { recordBackup } from '../../store/backups.ts';
import { putManifest, replaceObjectMetadata, verifyStoredObject, type BackupManifest } from './catalog.ts';
import { manifestKey, type BackupKind } from './keys.ts';
import type { ByteReader } from './byte-reader.ts';
import type { RecipientKey } from './encrypt.ts';
import type { BackupDeps, BackupObject, BackupRequest, BackupSettings } from './model.ts';
import type { DatabaseInfo } from './pg-tools.ts';
import { uploadStream, withCleanupFailures, type StreamUploadResult } from './upload.ts';

const DEFAULT_PROGRESS_INTERVAL_MS = 5_000;
// Requests made while cleaning up must not use the task's (possibly aborted) signal.
const CLEANUP_TIMEOUT_MS = 30_000;

export interface UploadTarget {
  kind: BackupKind;
  key: string;
  recipient: RecipientKey | undefined;
  started: Date;
  signal: AbortSignal;
}

/** Streams one object of a backup into S3 (see uploadStream: nothing is committed unless the producer succeeded). */
export function uploadObject(
  deps: BackupDeps,
  request: BackupRequest,
  settings: BackupSettings,
  target: UploadTarget,
  source: ByteReader,
  producer: { succeeded: Promise<void>; stop(): void },
): Promise<StreamUploadResult> {
  return uploadStream({
    s3: deps.s3,
    bucket: settings.bucket,
    key: target.key,
    contentType: contentTypeOf(target.kind, target.recipient !== undefined),
    metadata: baseMetadata(request, target.kind, target.recipient),
    serverSideEncryption: settings.serverSideEncryption as ServerSideEncryption | undefined,
    source,
    producerSucceeded: producer.succeeded,
    stopProducer: producer.stop,
    signal: target.signal,
    partSizeBytes: request.partSizeBytes,
    maxPartsInFlight: request.maxPartsInFlight,
    onBytes: progressReporter(deps.clock, request, target.kind, target.started),
  });
}

export interface FinalizeDetails {
  kind: BackupKind;
  started: Date;
  recipient: RecipientKey | undefined;
  extraMetadata: Record<string, string>;
  database?: DatabaseInfo;
  pgDumpVersion?: string | null;
  objectCounts?: Record<string, number>;
}

/** Checksum metadata on the object, HeadObject verification, manifest in the bucket and the store; on failure the object goes. */
export async function finalizeObject(
  deps: BackupDeps,
  request: BackupRequest,
  settings: BackupSettings,
  uploaded: StreamUploadResult,
  signal: AbortSignal,
  details: FinalizeDetails,
): Promise<BackupObject> {
  const { s3, clock } = deps;
  const { bucket, key, sizeBytes, sha256 } = uploaded;
  const sse = settings.serverSideEncryption as ServerSideEncryption | undefined;
  let manifestWritten = false;
  try {
    await replaceObjectMetadata(s3, bucket, key, sizeBytes, {
      contentType: contentTypeOf(details.kind, details.recipient !== undefined),
      metadata: {
        ...baseMetadata(request, details.kind, details.recipient),
        ...details.extraMetadata,
        sha256,
        'size-bytes': String(sizeBytes),
      },
      serverSideEncryption: sse,
    });
    if (signal.aborted) throw signal.reason;
    await verifyStoredObject(s3, bucket, key, { sizeBytes, sha256 });
    const verifiedAt = clock.now();
    const durationMs = verifiedAt.getTime() - details.started.getTime();
    const manifest: BackupManifest = {
      service: request.service,
      kind: details.kind,
      bucket,
      key,
      sizeBytes,
      sha256,
      encrypted: details.recipient !== undefined,
      recipient: details.recipient?.fingerprint ?? null,
      serverSideEncryption: sse ?? null,
      database: details.database?.name ?? null,
      pgVersion: details.database?.serverVersion ?? null,
      pgDumpVersion: details.pgDumpVersion ?? null,
      startedAt: details.started.toISOString(),
      durationMs,
      verifiedAt: verifiedAt.toISOString(),
      trigger: request.trigger,
      requestedBy: request.requestedBy ?? null,
    };
    if (signal.aborted) throw signal.reason;
    const manifestObject = await putManifest(s3, manifest, sse);
    manifestWritten = true;
    await recordBackup(deps.store, {
      service: request.service,
      kind: details.kind,
      bucket,
      key,
      sizeBytes,
      sha256,
      encrypted: manifest.encrypted,
      serverSideEncryption: manifest.serverSideEncryption,
      pgVersion: manifest.pgVersion,
      startedAt: details.started,
      durationMs,
      verifiedAt,
      requestedBy: manifest.requestedBy,
      trigger: request.trigger,
    });
    return {
      kind: details.kind,
      bucket,
      key,
      manifestKey: manifestObject,
      sizeBytes,
      sha256,
      recipient: manifest.recipient,
      serverSideEncryption: manifest.serverSideEncryption,
      durationMs,
      ...(details.database ? { database: details.database, pgDumpVersion: details.pgDumpVersion ?? null } : {}),
      ...(details.objectCounts ? { objectCounts: details.objectCounts } : {}),
    };
  } catch (error) {
    // Leave nothing behind: an object that is not verified and recorded is not a backup.
    const failures: string[] = [];
    for (const doomed of manifestWritten ? [manifestKey(key), key] : [key]) {
      await s3
        .send(new DeleteObjectCommand({ Bucket: bucket, Key: doomed }), { abortSignal: AbortSignal.timeout(CLEANUP_TIMEOUT_MS) })
        .catch((deleteError: unknown) =>
          failures.push(`deleting s3://${bucket}/${doomed} also failed: ${s3ErrorMessage(deleteError)}`),
        );
    }
    throw failures.length > 0 ? withCleanupFailures(error, failures) : error;
  }
}

function contentTypeOf(kind: BackupKind, encrypted: boolean): string {
  if (encrypted) return 'application/pgp-encrypted';
  return kind === 'config' ? 'application/yaml' : 'application/octet-stream';
}

function baseMetadata(request: BackupRequest, kind: BackupKind, recipient: RecipientKey | undefined): Record<string, string> {
  return {
    service: request.service,
    kind,
    encryption: recipient ? `openpgp:${recipient.fingerprint}` : 'none',
    trigger: request.trigger,
  };
}

function progressReporter(clock: Clock, request: BackupRequest, kind: BackupKind, started: Date): (bytes: number) => void {
  const every = request.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
  let last = started.getTime();
  return (bytes) => {
    if (!request.onProgress) return;
    const now = clock.now().getTime();
    if (now - last < every) return;
    last = now;
    const elapsedMs = now - started.getTime();
    request.onProgress({ kind, bytes, elapsedMs, bytesPerSecond: elapsedMs > 0 ? (bytes * 1000) / elapsedMs : 0 });
  };
}
