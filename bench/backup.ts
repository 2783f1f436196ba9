// bench:backup — in one run, on the same database: `pg_dump -Fc > /dev/null`, `pg_dump -Fc | gpg -e > /dev/null`, and the bot's
// `runbook-bot backup` (a separate process running the compiled CLI, as the Docker image does) unencrypted and encrypted into
// s3rver. Each is measured by /usr/bin/time: wall time, CPU time (user + system, child processes included: the bot's figure
// holds its pg_dump and gpg), peak RSS (the largest process of the tree) and file system writes.
// The default data set is pgbench scale 10 plus 64 MiB of random bytea, which does not compress (--dataset pgbench for a
// pgbench-only database of --scale). Goals: encrypted >= 0.9x the throughput of pg_dump alone, peak RSS <= 150 MB
// (150,000,000 bytes: 143 MiB; the table prints both), nothing written to disk by the bot.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';

const { values: args } = parseArgs({
  options: {
    dataset: { type: 'string', default: 'incompressible' },
    scale: { type: 'string' },
    runs: { type: 'string', default: '3' },
  },
});

const BUCKET = 'bench-backups';
const PEAK_RSS_GOAL_BYTES = 150_000_000;
const RANDOM_MIB = 64;
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

interface Measured {
  ok: boolean;
  wallSeconds: number;
  cpuSeconds: number;
  peakRssKb: number;
  /** File system outputs (512-byte blocks) of the process tree. */
  fsWrites: number;
  output: string;
}

/** Runs `command` under /usr/bin/time and reads its figures; asynchronously, since s3rver answers from this process. */
async function measure(command: string, argv: string[], env: NodeJS.ProcessEnv): Promise<Measured> {
  const child = spawn('/usr/bin/time', ['-f', 'BENCH-TIME %e %U %S %M %O', command, ...argv], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const status = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const line = /BENCH-TIME (\S+) (\S+) (\S+) (\d+) (\d+)/.exec(stderr);
  if (!line) throw new Error(`/usr/bin/time gave no figures (is GNU time installed?): ${stderr}`);
  return {
    ok: status === 0,
    wallSeconds: Number(line[1]),
    cpuSeconds: Number(line[2]) + Number(line[3]),
    peakRssKb: Number(line[4]),
    fsWrites: Number(line[5]),
    output: `${stdout}${stderr.replace(/BENCH-TIME.*\n?/, '')}`.trim(),
  };
}

/** Compiles src into .tmp-bench-backup/ (git-ignored) and returns a script that runs the CLI. */
function compileCli(): { script: string; remove(): void } {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const dir = join(root, '.tmp-bench-backup');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: '../tsconfig.build.json',
      compilerOptions: { outDir: '.', rootDir: '..', sourceMap: false },
      include: ['../src'],
    }),
  );
  // Type errors elsewhere in a work tree do not stop tsc from emitting; only a missing output does.
  spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], {
    stdio: 'ignore',
  });
  cpSync(join(root, 'src/store/migrations'), join(dir, 'src/store/migrations'), { recursive: true });
  if (!existsSync(join(dir, 'src/cli.js'))) throw new Error('tsc produced no src/cli.js');
  const script = join(dir, 'run-cli.mjs');
  writeFileSync(script, "import { cliMain } from './src/cli.js';\nawait cliMain();\n");
  return { script, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function main(): Promise<void> {
  const { default: pg } = await import('pg');
  const { generateKeyPair } = await import('../test/support/backup-fixtures.ts');
  const { startTestS3 } = await import('../test/support/s3.ts');
  const { scratchDatabase } = await import('./scratch-database.ts');
  const incompressible = args.dataset !== 'pgbench';
  const scale = Number(args.scale ?? (incompressible ? 10 : 70));
  const runs = Number(args.runs);
  console.log(
    `bench:backup: pgbench scale ${scale}${incompressible ? ` + ${RANDOM_MIB} MiB of random bytea` : ''}, a warm-up and ${runs} runs each, interleaved`,
  );
  const database = await scratchDatabase('rb_bench_backup');
  const storeDb = await scratchDatabase('rb_bench_backup_store');
  const s3 = await startTestS3({ buckets: [BUCKET], setAwsEnvironment: true });
  const work = mkdtempSync(join(tmpdir(), 'rb-bench-backup-'));
  const cleanups: Array<() => void> = [() => rmSync(work, { recursive: true, force: true })];
  try {
    // Server-side data generation (G) is the quickest way to a large database.
    const init = spawnSync('pgbench', ['-i', '-s', String(scale), '-I', 'dtGvp', '-q', database.url], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (init.status !== 0) throw new Error(`pgbench -i failed: ${String(init.stderr)}`);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    if (incompressible) {
      // Stored as is (no TOAST compression would help anyway), and pg_dump's compression cannot shrink it either.
      await client.query('CREATE TABLE bench_blobs (id int PRIMARY KEY, data bytea)');
      await client.query('ALTER TABLE bench_blobs ALTER COLUMN data SET STORAGE EXTERNAL');
      for (let i = 0; i < RANDOM_MIB; i += 1)
        await client.query('INSERT INTO bench_blobs VALUES ($1, $2)', [i, randomBytes(1024 * 1024)]);
    }
    const { rows } = await client.query<{ size: string }>('SELECT pg_database_size(current_database())::text AS size');
    await client.end();
    const size = Number(rows[0]!.size);
    console.log(`database: ${mb(size)} MiB`);

    const compiled = compileCli();
    cleanups.push(compiled.remove);
    const keys = await generateKeyPair();
    const keyFile = join(work, 'recipient.asc');
    writeFileSync(keyFile, keys.publicKey);
    const config = (encrypted: boolean) => {
      const path = join(work, `runbook-bot-${encrypted ? 'encrypted' : 'plain'}.yml`);
      writeFileSync(
        path,
        stringify({
          s3: { endpoint: s3.directEndpoint, forcePathStyle: true },
          services: {
            bench: {
              backup: {
                databaseUrlEnv: 'BENCH_DATABASE_URL',
                bucket: BUCKET,
                prefix: encrypted ? 'encrypted/' : 'plain/',
                ...(encrypted ? { encryption: { publicKeyEnv: 'BENCH_PUBLIC_KEY' } } : {}),
              },
            },
          },
        }),
      );
      return path;
    };
    const botEnv = (encrypted: boolean): NodeJS.ProcessEnv => ({
      PATH: process.env.PATH,
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
      AWS_REGION: 'us-east-1',
      RUNBOOK_BOT_CONFIG: config(encrypted),
      DATABASE_URL: storeDb.url,
      BENCH_DATABASE_URL: database.url,
      BENCH_PUBLIC_KEY: keys.publicKey,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
    });
    const gpg = `gpg --homedir /nonexistent/rb-bench --batch --no-options --no-keyring --trust-model always --no-random-seed-file --compress-algo none --recipient-file ${keyFile} --encrypt`;
    const quoted = `'${database.url.replace(/'/g, "'\\''")}'`;
    const variants: Array<{ label: string; bot?: boolean; throughputGoal?: boolean; run: () => Promise<Measured> }> = [
      {
        label: 'pg_dump -Fc > /dev/null',
        run: () => measure('sh', ['-c', `pg_dump -Fc --dbname=${quoted} > /dev/null`], process.env),
      },
      {
        label: 'pg_dump -Fc | gpg -e > /dev/null',
        run: () => measure('sh', ['-c', `pg_dump -Fc --dbname=${quoted} | ${gpg} > /dev/null`], process.env),
      },
      {
        label: 'runbook-bot backup, unencrypted',
        bot: true,
        run: () => measure(process.execPath, [compiled.script, 'backup', 'bench'], botEnv(false)),
      },
      {
        label: 'runbook-bot backup, encrypted',
        bot: true,
        throughputGoal: true,
        run: () => measure(process.execPath, [compiled.script, 'backup', 'bench'], botEnv(true)),
      },
    ];
    const results = new Map<string, Measured[]>(variants.map((variant) => [variant.label, []]));
    // Interleaved, so a slow phase of the machine hits every variant alike. Round 0 warms up and is printed, not counted:
    // the first bot run of a bench was charged 53-74 KiB of file system writes (later runs none, and pg_dump alone
    // sometimes 4-8 KiB), while strace of backups shows no file opened for writing by the bot, pg_dump or gpg.
    for (let run = 0; run <= runs; run += 1) {
      const name = run === 0 ? 'warm-up' : `run ${run}`;
      for (const variant of variants) {
        const measured = await variant.run();
        if (run > 0 || !measured.ok) results.get(variant.label)!.push(measured);
        if (!measured.ok) console.log(`${name}: ${variant.label} FAILED: ${measured.output}`);
        else
          console.log(
            `${name}: ${variant.label}: ${measured.wallSeconds.toFixed(2)} s, peak ${(measured.peakRssKb / 1024).toFixed(0)} MiB, ${measured.fsWrites * 512} B written`,
          );
      }
    }
    const base = Math.min(...results.get(variants[0]!.label)!.map((measured) => measured.wallSeconds));
    console.log(
      `\n${'best of each'.padEnd(34)} ${'wall'.padStart(8)} ${'x pg_dump'.padStart(10)} ${'CPU'.padStart(8)} ${'peak RSS'.padStart(18)} ${'fs writes'.padStart(10)}`,
    );
    let pass = true;
    for (const variant of variants) {
      const measured = results.get(variant.label)!;
      if (measured.some((one) => !one.ok)) {
        console.log(`${variant.label.padEnd(34)} FAILED`);
        pass = false;
        continue;
      }
      const best = measured.reduce((a, b) => (b.wallSeconds < a.wallSeconds ? b : a));
      const rssBytes = Math.max(...measured.map((one) => one.peakRssKb)) * 1024;
      const writes = Math.max(...measured.map((one) => one.fsWrites)) * 512;
      console.log(
        `${variant.label.padEnd(34)} ${`${best.wallSeconds.toFixed(2)} s`.padStart(8)} ${(base / best.wallSeconds).toFixed(2).padStart(10)} ${`${best.cpuSeconds.toFixed(2)} s`.padStart(8)} ${`${(rssBytes / 2 ** 20).toFixed(0)} MiB/${(rssBytes / 1e6).toFixed(0)} MB`.padStart(18)} ${`${writes} B`.padStart(10)}`,
      );
      if (variant.bot)
        pass &&= rssBytes <= PEAK_RSS_GOAL_BYTES && writes === 0 && (!variant.throughputGoal || base / best.wallSeconds >= 0.9);
    }
    console.log(
      `\ngoals: encrypted >= 0.9x pg_dump's throughput, peak RSS <= 150 MB (143 MiB), 0 bytes written by the bot -> ${pass ? 'PASS' : 'FAIL'}` +
        `\n(${mb(size)} MiB database; CPU includes child processes, so the bot's holds its pg_dump and gpg; the load average was ${readLoad()})`,
    );
    process.exitCode = pass ? 0 : 1;
  } finally {
    for (const cleanup of cleanups) cleanup();
    await s3.close();
    await storeDb.drop();
    await database.drop();
  }
}

function readLoad(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

await main();
