// Backups of a service: pg_dump -Fc and/or its namespace's Kubernetes objects, streamed (optionally OpenPGP-encrypted) into S3, verified, recorded, then retention.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, type S3Client, type ServerSideEncryption } from '@aws-sdk/client-s3';
import type { KubernetesClients } from '../clients/kubernetes.ts';
import { s3ErrorMessage } from '../clients/s3.ts';
import type { Clock } from '../clock.ts';
import type { ServiceConfig } from '../config/schema.ts';
import { ConfigError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { claimBackupLock, markBackupsDeleted, recordBackup, releaseBackupLock, renewBackupLock } from '../store/backups.ts';
import type { Store } from '../store/db.ts';
import {
  backupKey,
  manifestKey,
  putManifest,
  replaceObjectMetadata,
  verifyStoredObject,
  type BackupKind,
  type BackupManifest,
} from './backup-catalog.ts';
import { encryptStream, loadRecipientKey, type RecipientKey } from './backup-encryption.ts';
import { applyRetention, type RetentionResult } from './backup-retention.ts';
import { uploadStream, withCleanupFailures, type StreamUploadResult } from './backup-upload.ts';
import { describeDatabase, pgToolVersion, startPgTool, type DatabaseInfo } from './postgres-tools.ts';

export const BACKUP_KINDS = ['database', 'config', 'full'] as const;
export type BackupRequestKind = (typeof BACKUP_KINDS)[number];
export type { BackupKind } from './backup-catalog.ts';

export type BackupSettings = NonNullable<ServiceConfig['backup']>;

export interface BackupDeps {
  store: Store;
  s3: S3Client;
  clock: Clock;
  log: Logger;
  /** Kubernetes clients for a context (config backups); the service's own context, else the configured one. */
  kubernetes?: (context: string | undefined) => KubernetesClients;
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
  env: Record<string, string | undefined>;
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

const DEFAULT_PROGRESS_INTERVAL_MS = 5_000;
const DEFAULT_LOCK_LEASE_MS = 60_000;

/** What a backup will write, and where; the confirmation shows it and the run writes exactly these keys. */
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

/** Runs one backup request; never throws for an operational failure — the result says what failed and why. */
export async function runBackup(deps: BackupDeps, request: BackupRequest): Promise<BackupResult> {
  const { clock, store } = deps;
  const started = clock.now();
  const result: BackupResult = {
    ok: false,
    service: request.service,
    kind: request.kind,
    objects: [],
    failures: [],
    retention: [],
    notes: [],
    durationMs: 0,
  };
  const finish = () => {
    result.ok = result.failures.length === 0 && result.objects.length > 0;
    result.durationMs = clock.now().getTime() - started.getTime();
    return result;
  };
  const settings = request.config.backup;
  if (!settings) {
    result.failures.push({ kind: 'lock', reason: `${request.service} has no backup section in the config` });
    return finish();
  }
  const plan = planBackup(request.service, settings, request.kind, started);
  const log = deps.log.child({ service: request.service, backup: request.kind });

  // One backup per service at a time, across replicas.
  const lockName = `backup:${request.service}`;
  const holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const leaseMs = request.lockLeaseMs ?? DEFAULT_LOCK_LEASE_MS;
  const claim = await claimBackupLock(store, lockName, holder, started, leaseMs);
  if (!claim.acquired) {
    result.failures.push({
      kind: 'lock',
      reason: `another backup of ${request.service} is already running (since ${claim.since.toISOString()}, on ${claim.holder.split(':')[0]})`,
    });
    return finish();
  }
  const lost = new AbortController();
  const renewal = setInterval(() => {
    renewBackupLock(store, lockName, holder, clock.now(), leaseMs).then(
      (held) => {
        if (!held)
          lost.abort(new Error(`lost the backup lock of ${request.service} (its lease ran out and another replica took it)`));
      },
      (error: unknown) => log.warn({ event: 'backup.lock_renew_failed', err: error }),
    );
  }, leaseMs / 3);
  const signal = request.signal ? AbortSignal.any([request.signal, lost.signal]) : lost.signal;

  try {
    for (const step of plan.steps) {
      const key = request.keys?.[step.kind] ?? step.key;
      if (signal.aborted) {
        result.failures.push({ kind: step.kind, reason: `not started: ${errorMessage(signal.reason)}` });
        continue;
      }
      try {
        const object =
          step.kind === 'database'
            ? await backUpDatabase(deps, request, settings, key, signal, log)
            : await backUpConfig(deps, request, settings, key, signal, result.notes);
        result.objects.push(object);
        log.info({ event: 'backup.verified', kind: step.kind, key, bytes: object.sizeBytes, sha256: object.sha256 });
      } catch (error) {
        const reason = failureReason(error);
        result.failures.push({ kind: step.kind, reason });
        log.warn({ event: 'backup.failed', kind: step.kind, key, reason });
        continue;
      }
      // Retention only after a verified backup of the same kind.
      try {
        const retention = await applyRetention({
          s3: deps.s3,
          bucket: settings.bucket,
          prefix: settings.prefix,
          service: request.service,
          kind: step.kind,
          retentionDays: settings.retentionDays,
          now: clock.now(),
          signal,
        });
        result.retention.push(retention);
        await markBackupsDeleted(store, settings.bucket, retention.deleted, clock.now());
        for (const failure of retention.failures) result.notes.push(`retention: ${failure}`);
      } catch (error) {
        result.notes.push(`retention of ${step.kind} backups failed: ${errorMessage(error)}`);
      }
    }
  } finally {
    clearInterval(renewal);
    await releaseBackupLock(store, lockName, holder).catch((error: unknown) =>
      log.warn({ event: 'backup.lock_release_failed', err: error }),
    );
  }
  return finish();
}

async function backUpDatabase(
  deps: BackupDeps,
  request: BackupRequest,
  settings: BackupSettings,
  key: string,
  signal: AbortSignal,
  log: Logger,
): Promise<BackupObject> {
  const url = request.env[settings.databaseUrlEnv];
  if (!url) throw new Error(`the environment variable ${settings.databaseUrlEnv} (backup.databaseUrlEnv) is not set`);
  const started = deps.clock.now();
  const pgDump = request.pgDumpPath ?? 'pg_dump';
  if (signal.aborted) throw signal.reason;
  // pg_dump starts at once (it takes a while to connect and read the catalog); the key, and what the manifest
  // records about the database, are read meanwhile.
  const describing = Promise.all([describeDatabase(url), pgToolVersion(pgDump)]);
  describing.catch(() => undefined);
  const dump = startPgTool({
    command: pgDump,
    args: ['--format=custom', '--no-password'],
    databaseUrl: url,
    pipe: 'stdout',
    env: request.env,
  });
  log.info({ event: 'backup.pg_dump_started', pid: dump.child.pid, key });
  // A database that cannot be read fails pg_dump too; the description's error says it more plainly.
  const dumped = dump.exited.then(
    async () => void (await describing),
    async (error: unknown) => {
      await describing;
      throw error;
    },
  );
  dumped.catch(() => undefined);
  try {
    const recipient = settings.encryption ? await loadRecipientKey(settings.encryption, request.env, started) : undefined;
    const source = recipient ? await encryptStream(dump.stdout!, recipient) : dump.stdout!;
    const uploaded = await upload(deps, request, settings, { kind: 'database', key, recipient, started, signal }, source, {
      succeeded: dumped,
      stop: () => dump.stop(),
    });
    log.debug({ event: 'backup.uploaded', key, bytes: uploaded.sizeBytes, parts: uploaded.parts });
    const [database, pgDumpVersion] = await describing;
    return await finalize(deps, request, settings, uploaded, signal, {
      kind: 'database',
      started,
      recipient,
      extraMetadata: {
        database: database.name,
        'pg-version': database.serverVersion,
        'pg-dump-version': pgDumpVersion ?? 'unknown',
        format: 'pg_dump-custom',
      },
      database,
      pgDumpVersion: pgDumpVersion ?? null,
    });
  } finally {
    // Whatever happened, no pg_dump outlives its backup.
    dump.stop();
    await dump.exited.catch(() => undefined);
  }
}

async function backUpConfig(
  deps: BackupDeps,
  request: BackupRequest,
  settings: BackupSettings,
  key: string,
  signal: AbortSignal,
  notes: string[],
): Promise<BackupObject> {
  const kubernetes = request.config.kubernetes;
  if (!kubernetes) throw new Error(`${request.service} has no kubernetes section (namespace) in the config`);
  if (!deps.kubernetes) throw new Error('Kubernetes is not available to this process');
  const started = deps.clock.now();
  const recipient = settings.encryption ? await loadRecipientKey(settings.encryption, request.env, started) : undefined;
  const includeSecrets = settings.includeSecrets && recipient !== undefined;
  if (settings.includeSecrets && !includeSecrets)
    notes.push('secrets were not saved: backup.includeSecrets needs backup.encryption, so they never sit in the bucket in clear');
  // Loaded here: the Kubernetes client library is large, and a database backup does not need it.
  const { exportNamespace } = await import('./namespace-export.ts');
  const exported = await exportNamespace(deps.kubernetes(kubernetes.context), kubernetes.namespace, {
    includeSecrets,
    at: started,
  });
  if (signal.aborted) throw signal.reason;
  const bytes = Buffer.from(exported.yaml, 'utf8');
  const source = recipient ? await encryptStream(Readable.from([bytes]), recipient) : [bytes];
  const uploaded = await upload(deps, request, settings, { kind: 'config', key, recipient, started, signal }, source, {
    succeeded: Promise.resolve(),
    stop: () => undefined,
  });
  return finalize(deps, request, settings, uploaded, signal, {
    kind: 'config',
    started,
    recipient,
    extraMetadata: { namespace: kubernetes.namespace, secrets: includeSecrets ? 'yes' : 'no' },
    objectCounts: exported.counts,
  });
}

interface UploadTarget {
  kind: BackupKind;
  key: string;
  recipient: RecipientKey | undefined;
  started: Date;
  signal: AbortSignal;
}

/** Streams one object of a backup into S3 (see uploadStream: nothing is committed unless the producer succeeded). */
function upload(
  deps: BackupDeps,
  request: BackupRequest,
  settings: BackupSettings,
  target: UploadTarget,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
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

function contentTypeOf(kind: BackupKind, encrypted: boolean): string {
  if (encrypted) return 'application/pgp-encrypted';
  return kind === 'config' ? 'application/yaml' : 'application/octet-stream';
}

interface FinalizeDetails {
  kind: BackupKind;
  started: Date;
  recipient: RecipientKey | undefined;
  extraMetadata: Record<string, string>;
  database?: DatabaseInfo;
  pgDumpVersion?: string | null;
  objectCounts?: Record<string, number>;
}

/** Checksum metadata on the object, HeadObject verification, manifest in the bucket and the store; on failure the object goes. */
async function finalize(
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
        .send(new DeleteObjectCommand({ Bucket: bucket, Key: doomed }), { abortSignal: AbortSignal.timeout(30_000) })
        .catch((deleteError: unknown) =>
          failures.push(`deleting s3://${bucket}/${doomed} also failed: ${s3ErrorMessage(deleteError)}`),
        );
    }
    throw failures.length > 0 ? withCleanupFailures(error, failures) : error;
  }
}

/** One line: a ConfigError's issues without its "Invalid configuration" heading. */
export function failureReason(error: unknown): string {
  return error instanceof ConfigError ? error.issues.join('; ') : errorMessage(error);
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
