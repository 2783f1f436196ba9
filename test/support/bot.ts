// Starts the real bot (HTTP mode) against a fake Slack and a test store, the way tests drive it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startBot, type Bot, type BotOptions } from '../../src/app.ts';
import type { Clock } from '../../src/clock.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { startFakeSlack, type FakeSlack } from '../fakes/fake-slack.ts';
import { createTestDatabase } from './databases.ts';
import { testStoreKind, type StoreKind } from './stores.ts';

export const SIGNING_SECRET = 'test-signing-secret-0123456789';

export interface TestBot {
  bot: Bot;
  slack: FakeSlack;
  baseUrl: string;
  secret: string;
  databaseUrl: string | undefined;
  logs: () => string;
  stop(): Promise<void>;
}

export interface TestBotOptions {
  /** The YAML config, as data. */
  file?: Record<string, unknown>;
  env?: Record<string, string>;
  store?: StoreKind;
  clock?: Clock;
  slack?: FakeSlack;
  extra?: Partial<BotOptions>;
  /** Share an existing database (a second replica). */
  databaseUrl?: string;
}

export async function startTestBot(options: TestBotOptions = {}): Promise<TestBot> {
  const slack = options.slack ?? (await startFakeSlack());
  // The bot opens its own store from the environment, as in production.
  const kind = options.databaseUrl ? 'postgres' : (options.store ?? testStoreKind());
  // A second replica shares the first one's database (options.databaseUrl) and leaves dropping it to the first.
  const database = kind === 'postgres' && !options.databaseUrl ? await createTestDatabase() : undefined;
  const dataDir = kind === 'sqlite' ? mkdtempSync(join(tmpdir(), 'rb-bot-')) : undefined;
  const env = {
    SLACK_BOT_TOKEN: slack.token,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.url,
    PORT: '0',
    LOG_LEVEL: 'debug',
    ...(options.databaseUrl
      ? { DATABASE_URL: options.databaseUrl }
      : database
        ? { DATABASE_URL: database.url }
        : { DATA_DIR: dataDir! }),
    ...options.env,
  };
  const config = parseConfig(env, options.file ?? {}, 'test.yml');
  const lines: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk, _encoding, callback) {
        lines.push(String(chunk));
        callback();
      },
    }),
  });
  const bot = await startBot({
    config,
    logger,
    host: '127.0.0.1',
    ...(options.clock ? { clock: options.clock } : {}),
    ...options.extra,
  });
  return {
    bot,
    slack,
    baseUrl: `http://127.0.0.1:${bot.port}`,
    secret: SIGNING_SECRET,
    databaseUrl: options.databaseUrl ?? database?.url,
    logs: () => lines.join(''),
    async stop() {
      await bot.stop();
      if (!options.slack) await slack.close();
      await database?.drop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
