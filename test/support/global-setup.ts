// vitest globalSetup: one throwaway PostgreSQL and one Redis per run (unless DATABASE_URL / REDIS_URL name servers to use), their URLs provided to tests.
import type { TestProject } from 'vitest/node';
import { startThrowawayPostgres, type ThrowawayServer } from './throwaway-postgres.ts';
import { startThrowawayRedis } from './throwaway-redis.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server URL on which tests may create databases: use createTestDatabase() from databases.ts. */
    databaseUrl: string;
    /** A Redis URL shared by all tests: use redisUrlForTest() from databases.ts for a key prefix of your own. */
    redisUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const results = await Promise.allSettled([
    givenOrStarted(process.env.DATABASE_URL, startThrowawayPostgres),
    givenOrStarted(process.env.REDIS_URL, startThrowawayRedis),
  ]);
  const servers = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stopAll = async () => {
    await Promise.all(servers.map((server) => server.stop()));
  };
  const failure = results.find((result) => result.status === 'rejected');
  if (failure) {
    await stopAll();
    throw failure.reason;
  }
  const [postgres, redis] = servers as [ThrowawayServer, ThrowawayServer];
  project.provide('databaseUrl', postgres.url);
  project.provide('redisUrl', redis.url);
  return stopAll;
}

async function givenOrStarted(url: string | undefined, start: () => Promise<ThrowawayServer>): Promise<ThrowawayServer> {
  return url ? { url, stop: async () => undefined } : start();
}
