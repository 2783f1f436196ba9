// The test harness itself: every test gets a real PostgreSQL and Redis, isolated from other tests.
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, redisUrlForTest, type TestDatabase } from './support/databases.ts';
import { startThrowawayPostgres } from './support/throwaway-postgres.ts';
import { startThrowawayRedis } from './support/throwaway-redis.ts';

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

describe('PostgreSQL', () => {
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    await Promise.all(databases.map((database) => database.drop()));
  });

  it('the run-wide server answers queries', async () => {
    const { rows } = await withClient(inject('databaseUrl'), (client) => client.query<{ sum: number }>('SELECT 1 + 1 AS sum'));
    expect(rows).toEqual([{ sum: 2 }]);
  });

  it('gives each caller its own database: a table created in one is absent from another', async () => {
    const first = await createTestDatabase();
    const second = await createTestDatabase();
    databases.push(first, second);
    expect(first.url).not.toBe(second.url);

    await withClient(first.url, (client) => client.query('CREATE TABLE only_in_first (id int)'));

    const tableIn = (url: string) =>
      withClient(url, async (client) => {
        const { rows } = await client.query<{ found: string | null }>(
          `SELECT to_regclass('public.only_in_first')::text AS found`,
        );
        return rows[0]?.found;
      });
    expect(await tableIn(first.url)).toBe('only_in_first');
    expect(await tableIn(second.url)).toBeNull();
  });

  it('drops a database even while something is still connected to it', async () => {
    const database = await createTestDatabase();
    const name = new URL(database.url).pathname.slice(1);
    const lingering = new pg.Client({ connectionString: database.url });
    lingering.on('error', () => undefined); // it is terminated by the drop
    await lingering.connect();

    await database.drop();

    const { rows } = await withClient(inject('databaseUrl'), (client) =>
      client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]),
    );
    expect(rows).toEqual([]);
    await lingering.end().catch(() => undefined);
  });

  it('a server of its own stops for good', async () => {
    const server = await startThrowawayPostgres();
    await withClient(server.url, (client) => client.query('SELECT 1'));

    await server.stop();

    await expect(withClient(server.url, (client) => client.query('SELECT 1'))).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('Redis', () => {
  const clients: Redis[] = [];
  afterAll(() => {
    for (const client of clients) client.disconnect();
  });

  function connectRedis(url: string, keyPrefix?: string): Redis {
    const client = new Redis(url, { keyPrefix, maxRetriesPerRequest: 1 });
    clients.push(client);
    return client;
  }

  it('answers PING, and SET then GET under a key prefix of the test own', async () => {
    const { url, keyPrefix } = redisUrlForTest();
    const redis = connectRedis(url, keyPrefix);

    expect(await redis.ping()).toBe('PONG');
    await redis.set('greeting', 'hello');
    expect(await redis.get('greeting')).toBe('hello');
    expect(await connectRedis(url).get(`${keyPrefix}greeting`)).toBe('hello');
  });

  it('gives each caller a different key prefix', () => {
    expect(redisUrlForTest().keyPrefix).not.toBe(redisUrlForTest().keyPrefix);
  });

  it('a server of its own stops for good', async () => {
    const server = await startThrowawayRedis();
    const redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined);
    await redis.connect();
    expect(await redis.ping()).toBe('PONG');
    redis.disconnect();

    await server.stop();

    const { hostname, port } = new URL(server.url);
    const refused = await new Promise<string | undefined>((resolve) => {
      const socket = connect({ host: hostname, port: Number(port) });
      socket.on('connect', () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});
