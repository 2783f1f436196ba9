// bench:backup — a PostgreSQL database of at least 1 GB (pgbench -i), plain `pg_dump -Fc > /dev/null` beside the bot's backup to
// s3rver in the same run; throughput ratio, the bot's peak RSS (VmHWM of the process running the backup) and the bytes it wrote
// to disk. Goals: >= 0.9x pg_dump's throughput, peak RSS under 150 MB, no temporary file (0 bytes written to disk).
// The measured process runs the bot's code compiled to JavaScript, as the Docker image does (no TypeScript loader in it).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ServiceConfig } from '../src/config/schema.ts';
// The rest is imported where it is used: the measured child loads only what the bot's backup loads.

const { values: args } = parseArgs({
  allowNegative: true,
  options: {
    scale: { type: 'string', default: '70' },
    runs: { type: 'string', default: '3' },
    encrypted: { type: 'boolean', default: true },
    'part-mb': { type: 'string' },
    'in-flight': { type: 'string' },
    child: { type: 'string' },
  },
});

const BUCKET = 'bench-backups';
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

interface ChildInput {
  databaseUrl: string;
  storeUrl: string;
  endpoint: string;
  publicKey?: string;
  partSizeBytes?: number;
  maxPartsInFlight?: number;
}

interface ChildOutput {
  ok: boolean;
  failures: string[];
  seconds: number;
  objectBytes: number;
  vmHwmKb: number;
  diskWriteBytes: number;
}

/** The measured process: the bot's backup task, as the bot runs it, reporting its own peak RSS and disk writes. */
async function child(input: ChildInput): Promise<void> {
  const { createS3Client } = await import('../src/clients/s3.ts');
  const { systemClock } = await import('../src/clock.ts');
  const { createLogger } = await import('../src/log.ts');
  const { openStore } = await import('../src/store/db.ts');
  const { migrate } = await import('../src/store/migrate.ts');
  const { runBackup } = await import('../src/tasks/backup/run-backup.ts');
  const store = await openStore({ databaseUrl: input.storeUrl, maxConnections: 2 });
  await migrate(store);
  const s3 = createS3Client({ endpoint: input.endpoint, region: 'us-east-1', forcePathStyle: true });
  const service: ServiceConfig = {
    responders: [],
    backup: {
      databaseUrlEnv: 'BENCH_DATABASE_URL',
      bucket: BUCKET,
      prefix: 'bench/',
      retentionDays: 30,
      includeSecrets: false,
      restoreTest: { tables: [] },
      ...(input.publicKey ? { encryption: { publicKeyEnv: 'BENCH_PUBLIC_KEY' } } : {}),
    },
  };
  const started = performance.now();
  const result = await runBackup(
    {
      store,
      s3,
      clock: systemClock,
      log: createLogger({ level: process.env.BENCH_LOG_LEVEL ?? 'warn', destination: process.stderr }),
    },
    {
      service: 'bench',
      config: service,
      kind: 'database',
      env: { BENCH_DATABASE_URL: input.databaseUrl, ...(input.publicKey ? { BENCH_PUBLIC_KEY: input.publicKey } : {}) },
      trigger: 'cli',
      ...(input.partSizeBytes ? { partSizeBytes: input.partSizeBytes } : {}),
      ...(input.maxPartsInFlight ? { maxPartsInFlight: input.maxPartsInFlight } : {}),
    },
  );
  const seconds = (performance.now() - started) / 1000;
  const status = readFileSync('/proc/self/status', 'utf8');
  const io = readFileSync('/proc/self/io', 'utf8');
  const output: ChildOutput = {
    ok: result.ok,
    failures: result.failures.map((failure) => failure.reason),
    seconds,
    objectBytes: result.objects[0]?.sizeBytes ?? 0,
    vmHwmKb: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0),
    diskWriteBytes: Number(/write_bytes:\s+(\d+)/.exec(io)?.[1] ?? 0),
  };
  process.stdout.write(`${JSON.stringify(output)}\n`);
  s3.destroy();
  await store.close();
}

/** Compiles src and this file into .tmp-bench-backup/ (git-ignored) and returns the compiled bench script. */
function compileForChild(): { script: string; remove(): void } {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const dir = join(root, '.tmp-bench-backup');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: '../tsconfig.build.json',
      compilerOptions: { outDir: '.', rootDir: '..', sourceMap: false },
      include: ['../src', '../bench/backup.ts'],
    }),
  );
  // Type errors elsewhere in a work tree do not stop tsc from emitting; only a missing output does.
  spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], {
    stdio: 'ignore',
  });
  cpSync(join(root, 'src/store/migrations'), join(dir, 'src/store/migrations'), { recursive: true });
  const script = join(dir, 'bench/backup.js');
  if (!existsSync(script)) throw new Error('tsc produced no bench/backup.js');
  return { script, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function runChild(script: string, input: ChildInput): Promise<ChildOutput> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [script, '--child', JSON.stringify(input)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (text: string) => (out += text));
    proc.on('error', reject);
    proc.on('close', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) return reject(new Error(`backup child exited with ${code}: ${out}`));
      resolve(JSON.parse(line) as ChildOutput);
    });
  });
}

function plainPgDump(databaseUrl: string): number {
  const devNull = openSync('/dev/null', 'w');
  try {
    const started = performance.now();
    const run = spawnSync('pg_dump', ['-Fc', `--dbname=${databaseUrl}`], { stdio: ['ignore', devNull, 'pipe'] });
    if (run.status !== 0) throw new Error(`pg_dump failed: ${String(run.stderr)}`);
    return (performance.now() - started) / 1000;
  } finally {
    closeSync(devNull);
  }
}

async function main(): Promise<void> {
  const { default: pg } = await import('pg');
  const { generateKeyPair } = await import('../test/support/backup-fixtures.ts');
  const { startTestS3 } = await import('../test/support/s3.ts');
  const { scratchDatabase } = await import('./scratch-database.ts');
  const scale = Number(args.scale);
  const runs = Number(args.runs);
  console.log(`bench:backup: pgbench scale ${scale}, ${runs} runs each`);
  const database = await scratchDatabase('rb_bench_backup');
  const storeDb = await scratchDatabase('rb_bench_backup_store');
  const s3 = await startTestS3({ buckets: [BUCKET], setAwsEnvironment: true });
  const cleanups: Array<() => void> = [];
  try {
    const initStarted = performance.now();
    // Server-side data generation (G) is the quickest way to a large database.
    const init = spawnSync('pgbench', ['-i', '-s', String(scale), '-I', 'dtGvp', '-q', database.url], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (init.status !== 0) throw new Error(`pgbench -i failed: ${String(init.stderr)}`);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const { rows } = await client.query<{ size: string }>('SELECT pg_database_size(current_database())::text AS size');
    await client.end();
    const size = Number(rows[0]!.size);
    console.log(`database: ${mb(size)} MB after pgbench -i (${((performance.now() - initStarted) / 1000).toFixed(0)} s)`);
    if (size < 1024 ** 3) console.log('warning: the database is under 1 GB; raise --scale');

    const compiled = compileForChild();
    cleanups.push(compiled.remove);
    const keys = args.encrypted ? await generateKeyPair() : undefined;
    const baseline: number[] = [];
    const plain: ChildOutput[] = [];
    const encrypted: ChildOutput[] = [];
    const input: ChildInput = {
      databaseUrl: database.url,
      storeUrl: storeDb.url,
      endpoint: s3.directEndpoint,
      ...(args['part-mb'] ? { partSizeBytes: Number(args['part-mb']) * 1024 * 1024 } : {}),
      ...(args['in-flight'] ? { maxPartsInFlight: Number(args['in-flight']) } : {}),
    };
    // Interleaved, so a slow phase of the machine hits both sides alike.
    for (let run = 1; run <= runs; run += 1) {
      baseline.push(plainPgDump(database.url));
      console.log(`run ${run}: pg_dump -Fc > /dev/null ${baseline.at(-1)!.toFixed(1)} s`);
      plain.push(await runChild(compiled.script, input));
      console.log(`run ${run}: bot backup ${JSON.stringify(plain.at(-1))}`);
      if (keys) {
        encrypted.push(await runChild(compiled.script, { ...input, publicKey: keys.publicKey }));
        console.log(`run ${run}: bot backup, OpenPGP ${JSON.stringify(encrypted.at(-1))}`);
      }
    }
    const best = (values: number[]) => Math.min(...values);
    const base = best(baseline);
    const report = (label: string, outputs: ChildOutput[]) => {
      if (outputs.length === 0) return true;
      const failed = outputs.filter((output) => !output.ok);
      if (failed.length > 0) {
        console.log(`${label}: FAILED ${failed.map((output) => output.failures.join('; ')).join(' | ')}`);
        return false;
      }
      const seconds = best(outputs.map((output) => output.seconds));
      const ratio = base / seconds;
      const rss = Math.max(...outputs.map((output) => output.vmHwmKb)) / 1024;
      const disk = Math.max(...outputs.map((output) => output.diskWriteBytes));
      const ok = ratio >= 0.9 && rss < 150 && disk === 0;
      console.log(
        `${label}: ${seconds.toFixed(1)} s (${mb(size / seconds)} MB/s of database, object ${mb(outputs[0]!.objectBytes)} MB); ` +
          `throughput ${ratio.toFixed(2)}x pg_dump's (goal >= 0.9); peak RSS ${rss.toFixed(0)} MB (goal < 150); ` +
          `disk writes ${disk} bytes (goal 0) -> ${ok ? 'PASS' : 'FAIL'}`,
      );
      return ok;
    };
    console.log(`pg_dump -Fc > /dev/null: ${base.toFixed(1)} s (${mb(size / base)} MB/s of database)`);
    const results = [report('bot backup, unencrypted', plain), report('bot backup, OpenPGP-encrypted', encrypted)];
    process.exitCode = results.every(Boolean) ? 0 : 1;
  } finally {
    for (const cleanup of cleanups) cleanup();
    await s3.close();
    await storeDb.drop();
    await database.drop();
  }
}

if (args.child) await child(JSON.parse(args.child) as ChildInput);
else await main();
