// A backup of a service: its database and/or its namespace, each streamed into S3, verified and recorded, then retention; one at a time per service.
import { errorMessage } from '../../errors.ts';
import { markBackupsDeleted } from '../../store/backups.ts';
import { backUpDatabase } from './dump.ts';
import { takeLock } from './lock.ts';
import { failureReason, type BackupDeps, type BackupRequest, type BackupResult } from './model.ts';
import { backUpNamespace } from './namespace.ts';
import { planBackup } from './plan.ts';
import { applyRetention } from './retention.ts';

const DEFAULT_LOCK_LEASE_MS = 60_000;

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
  const lock = await takeLock({
    store,
    clock,
    log,
    name: `backup:${request.service}`,
    what: `the backup lock of ${request.service}`,
    leaseMs: request.lockLeaseMs ?? DEFAULT_LOCK_LEASE_MS,
  });
  if (!lock.held) {
    result.failures.push({
      kind: 'lock',
      reason: `another backup of ${request.service} is already running (since ${lock.since.toISOString()}, on ${lock.holder.split(':')[0]})`,
    });
    return finish();
  }
  const signal = request.signal ? AbortSignal.any([request.signal, lock.held.signal]) : lock.held.signal;

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
            : await backUpNamespace(deps, request, settings, key, signal, result.notes);
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
    await lock.held.release();
  }
  return finish();
}
