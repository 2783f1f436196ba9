// The backup use cases the Slack handlers, the CLI and the schedules call alike: look before a backup, take one, test-restore the newest.
// The S3 SDK, the Kubernetes client and the pipeline are loaded on first use: a process that never backs up never loads them.
import type { Clock } from '../../clock.ts';
import type { Config, ServiceConfig } from '../../config/schema.ts';
import { UserError } from '../../errors.ts';
import type { InFlight } from '../../inflight.ts';
import type { Logger } from '../../log.ts';
import type { Store } from '../../store/db.ts';
import type { RecipientKey } from './encrypt.ts';
import type { BackupKind } from './keys.ts';
import type { BackupDeps, BackupProgress, BackupRequestKind, BackupResult, BackupSettings } from './model.ts';
import type { DatabaseInfo } from './pg-tools.ts';
import { planBackup, type BackupPlan } from './plan.ts';
import type { RestoreTestResult } from './restore-test.ts';

/** What backups and restore tests need from the bot (the composition root or the CLI builds it once). */
export interface BackupRuntime {
  config: Config;
  store: Store;
  clock: Clock;
  logger: Logger;
  inflight: InFlight;
}

/** The longest a restore test may run; a larger database needs a larger value. */
const RESTORE_TEST_TIME_LIMIT_MS = 6 * 3_600_000;

export interface BackupPreview {
  plan: BackupPlan;
  /** database and full: what pg_dump will read. */
  database: DatabaseInfo | undefined;
  /** Encrypted to this key. */
  recipient: RecipientKey | undefined;
}

/**
 * What a backup would write and read, checked before anyone confirms it: the database answers and the key can encrypt.
 * Throws ExternalError (the database), ConfigError (the key) or UserError (a variable not set), in words for the user.
 */
export async function previewBackup(
  runtime: BackupRuntime,
  name: string,
  settings: BackupSettings,
  kind: BackupRequestKind,
): Promise<BackupPreview> {
  const env = runtime.config.variables;
  const plan = planBackup(name, settings, kind, runtime.clock.now());
  const needsDatabase = plan.steps.some((step) => step.kind === 'database');
  const [database, recipient] = await Promise.all([
    needsDatabase
      ? import('./pg-tools.ts').then(({ describeDatabase }) => describeDatabase(databaseUrl(settings, env)))
      : undefined,
    settings.encryption
      ? import('./encrypt.ts').then(({ loadRecipientKey }) => loadRecipientKey(settings.encryption!, env))
      : undefined,
  ]);
  return { plan, database, recipient };
}

export interface BackupRunOptions {
  kind: BackupRequestKind;
  trigger: 'slack' | 'cli' | 'schedule';
  requestedBy?: string;
  keys?: Partial<Record<BackupKind, string>>;
  signal?: AbortSignal;
  log?: Logger;
  onProgress?: (progress: BackupProgress) => void;
}

/** One backup with the bot's clients: the same code for Slack, the schedule and the CLI. */
export async function backup(
  runtime: BackupRuntime,
  name: string,
  service: ServiceConfig,
  options: BackupRunOptions,
): Promise<BackupResult> {
  const running = (async () => {
    const [{ runBackup }, { createS3Client }] = await Promise.all([import('./run-backup.ts'), import('../../clients/s3.ts')]);
    const s3 = createS3Client(runtime.config.file);
    const deps: BackupDeps = {
      store: runtime.store,
      s3,
      clock: runtime.clock,
      log: options.log ?? runtime.logger,
      kubernetes: async (context) => {
        const { createKubernetesClients } = await import('../../clients/kubernetes.ts');
        return createKubernetesClients(runtime.config, { context });
      },
    };
    try {
      return await runBackup(deps, {
        service: name,
        config: service,
        kind: options.kind,
        env: runtime.config.variables,
        trigger: options.trigger,
        requestedBy: options.requestedBy,
        keys: options.keys,
        signal: options.signal,
        onProgress: options.onProgress,
        pgToolStallMs: runtime.config.file.timeouts.pgToolStall,
      });
    } finally {
      s3.destroy();
    }
  })();
  // A stop cuts the confirmation's wait short; shutdown still waits for the upload to be aborted and the lock released.
  return runtime.inflight.track(running);
}

/** The newest verified database backup restored into a scratch database, its rows counted, the database dropped. */
export async function restoreTest(runtime: BackupRuntime, name: string, service: ServiceConfig): Promise<RestoreTestResult> {
  const running = (async () => {
    const [{ runRestoreTest }, { createS3Client }] = await Promise.all([
      import('./restore-test.ts'),
      import('../../clients/s3.ts'),
    ]);
    const s3 = createS3Client(runtime.config.file);
    try {
      return await runRestoreTest(
        { store: runtime.store, s3, clock: runtime.clock, log: runtime.logger },
        {
          service: name,
          config: service,
          env: runtime.config.variables,
          signal: AbortSignal.timeout(RESTORE_TEST_TIME_LIMIT_MS),
          pgToolStallMs: runtime.config.file.timeouts.pgToolStall,
        },
      );
    } finally {
      s3.destroy();
    }
  })();
  return runtime.inflight.track(running);
}

function databaseUrl(settings: BackupSettings, env: Readonly<Record<string, string | undefined>>): string {
  const url = env[settings.databaseUrlEnv];
  if (!url)
    throw new UserError(
      `the environment variable \`${settings.databaseUrlEnv}\` (backup.databaseUrlEnv) is not set on the bot`,
      'not_configured',
    );
  return url;
}
