// PostgreSQL health through pg: connect + SELECT 1, connections used vs max_connections, ungranted locks, long-running queries, size.
import { formatDuration, formatLatency } from '../../config/duration.ts';
import type { ServiceConfig } from '../../config/schema.ts';
import { DeadlineError, withDeadline } from '../../deadline.ts';
import { ExternalError, errorMessage } from '../../errors.ts';
import {
  notConfigured,
  outcomeFromFindings,
  type CheckContext,
  type CheckFactory,
  type CheckOutcome,
  type Finding,
} from './check.ts';
import { formatBytes } from '../../config/units.ts';

export type PostgresCheckConfig = NonNullable<NonNullable<ServiceConfig['health']>['postgres']>;

export const postgresChecks: CheckFactory = (service) => {
  const spec = service.config.health?.postgres;
  if (!spec) return [];
  return [{ kind: 'postgres', name: 'postgres', run: (context) => runPostgresCheck(spec, context) }];
};

interface Stats {
  used: number;
  max: number;
  lock_waits: number;
  longest_lock_wait_s: number | null;
  long_queries: number;
  longest_query_s: number | null;
  size_bytes: number;
}

// Locks and queries are those of this database (the service's); connections count server-wide, as max_connections does.
const STATS_SQL = `
SELECT
  (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS used,
  current_setting('max_connections')::int AS max,
  (SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE NOT l.granted AND a.datname = current_database())::int AS lock_waits,
  (SELECT EXTRACT(EPOCH FROM max(now() - a.state_change)) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE NOT l.granted AND a.datname = current_database())::float8 AS longest_lock_wait_s,
  (SELECT count(*) FROM pg_stat_activity
    WHERE datname = current_database() AND state <> 'idle' AND pid <> pg_backend_pid()
      AND backend_type = 'client backend' AND query_start < now() - make_interval(secs => $1))::int AS long_queries,
  (SELECT EXTRACT(EPOCH FROM max(now() - query_start)) FROM pg_stat_activity
    WHERE datname = current_database() AND state <> 'idle' AND pid <> pg_backend_pid()
      AND backend_type = 'client backend' AND query_start < now() - make_interval(secs => $1))::float8 AS longest_query_s,
  pg_database_size(current_database())::float8 AS size_bytes`;

export async function runPostgresCheck(spec: PostgresCheckConfig, context: CheckContext): Promise<CheckOutcome> {
  const url = context.env[spec.urlEnv];
  if (!url) return notConfigured(`${spec.urlEnv} is not set`);
  const limits = context.timeouts.postgres;
  // Loaded only when there is a database to check: a check that is not configured costs no driver.
  const { default: pg } = await import('pg');
  const client = new pg.Client({
    connectionString: url,
    application_name: 'runbook-bot-health',
    // pg's own limits, a little past ours, so ours are what report a hang (naming the setting); the server cancels too.
    connectionTimeoutMillis: limits.connect + 1_000,
    query_timeout: limits.statement + 1_000,
    statement_timeout: limits.statement,
  });
  // A server that accepts and never answers would hold the socket past any deadline: cut it on abort.
  const cut = () => client.connection.stream.destroy();
  client.on('error', () => undefined);
  const where = serverOf(url);
  const step = <T>(doing: string, limitMs: number, setting: string, work: () => Promise<T>) =>
    withDeadline(
      { dependency: 'PostgreSQL', doing: `${doing} (${where})`, limitMs, setting, signal: context.signal },
      (signal) => {
        signal.addEventListener('abort', cut, { once: true });
        return work().finally(() => signal.removeEventListener('abort', cut));
      },
    );
  try {
    const started = performance.now();
    try {
      await step('connecting', limits.connect, 'timeouts.postgres.connect', () => client.connect());
      await step('running SELECT 1', limits.statement, 'timeouts.postgres.statement', () => client.query('SELECT 1'));
    } catch (error) {
      if (context.signal.aborted || error instanceof DeadlineError) throw error;
      throw new ExternalError('PostgreSQL', `cannot connect: ${connectFailure(error)}`, { cause: error });
    }
    const roundTripMs = performance.now() - started;
    const { rows } = await step('reading connections, locks and size', limits.statement, 'timeouts.postgres.statement', () =>
      client.query<Stats>(STATS_SQL, [spec.longQuery / 1000]),
    );
    return gradePostgres(rows[0]!, spec, roundTripMs);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** "db.internal:5432/rlhf": where the check went, without the credentials. */
function serverOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return 'the configured server';
  }
}

function gradePostgres(stats: Stats, spec: PostgresCheckConfig, roundTripMs: number): CheckOutcome {
  const findings: Finding[] = [{ status: 'ok', text: `SELECT 1 in ${formatLatency(roundTripMs)}` }];
  const percent = Math.round((stats.used / stats.max) * 100);
  const connections = `${stats.used}/${stats.max} connections (${percent}%)`;
  findings.push({
    status: percent >= spec.connectionsCriticalPercent ? 'critical' : percent >= spec.connectionsWarnPercent ? 'warn' : 'ok',
    text: connections,
  });
  findings.push(
    stats.lock_waits > 0
      ? {
          status: 'warn',
          text: `${stats.lock_waits} ungranted lock${stats.lock_waits === 1 ? '' : 's'} (longest wait ${formatDuration((stats.longest_lock_wait_s ?? 0) * 1000)})`,
        }
      : { status: 'ok', text: 'no lock waits' },
  );
  findings.push(
    stats.long_queries > 0
      ? {
          status: 'warn',
          text: `${stats.long_queries} quer${stats.long_queries === 1 ? 'y' : 'ies'} running longer than ${formatDuration(spec.longQuery)} (longest ${formatDuration((stats.longest_query_s ?? 0) * 1000)})`,
        }
      : { status: 'ok', text: `no queries over ${formatDuration(spec.longQuery)}` },
  );
  const size = `size ${formatBytes(stats.size_bytes)}`;
  findings.push(
    spec.sizeWarnBytes !== undefined && stats.size_bytes >= spec.sizeWarnBytes
      ? { status: 'warn', text: `${size} (over ${formatBytes(spec.sizeWarnBytes)})` }
      : { status: 'ok', text: size },
  );
  return outcomeFromFindings(findings, findings.map((finding) => finding.text).join(', '));
}

/** pg's connection errors carry the network code (ECONNREFUSED) or the server's message (password authentication failed…). */
function connectFailure(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = errorMessage(error);
  return typeof code === 'string' && !message.includes(code) ? `${code} (${message})` : message;
}
