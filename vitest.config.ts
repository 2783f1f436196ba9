import { defineConfig } from 'vitest/config';

// The suite runs once per store dialect: "postgres" runs everything; "sqlite" runs again every test that goes through
// the bot's own store (test/support/stores.ts reads RUNBOOK_BOT_TEST_STORE). Tests of the fakes and pure units have
// no store and run once; *.postgres.test.ts files prove what only PostgreSQL does (several replicas on one database);
// *.sqlite.test.ts files prove what only the embedded store does (importing an older PGlite folder);
// process.test.ts starts real bot processes, which run on the embedded store already, and builds dist/ once.
const shared = {
  globalSetup: ['test/support/global-setup.ts'],
  pool: 'forks' as const,
  testTimeout: 20_000,
  hookTimeout: 60_000,
};

export default defineConfig({
  test: {
    // Tests talk to real servers and spawn processes: two cores, so keep the parallelism modest.
    maxWorkers: 2,
    projects: [
      {
        test: {
          ...shared,
          name: 'postgres',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.sqlite.test.ts'],
          env: { RUNBOOK_BOT_TEST_STORE: 'postgres' },
        },
      },
      {
        test: {
          ...shared,
          name: 'sqlite',
          include: ['test/**/*.test.ts'],
          exclude: [
            'test/unit/**',
            'test/fake-*.test.ts',
            'test/**/*.postgres.test.ts',
            'test/harness.test.ts',
            'test/process.test.ts',
          ],
          env: { RUNBOOK_BOT_TEST_STORE: 'sqlite' },
        },
      },
    ],
  },
});
