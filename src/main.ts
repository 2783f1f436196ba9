// Process entry: load config, start the bot, drain and exit on SIGTERM/SIGINT.
import { startBot, type Bot } from './app.ts';
import { loadConfig } from './config/load.ts';
import { ConfigError } from './errors.ts';
import { createLogger } from './log.ts';

const SHUTDOWN_DEADLINE_MS = 9_500;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`runbook-bot cannot start. ${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const logger = createLogger({ level: config.env.LOG_LEVEL, pretty: config.env.NODE_ENV === 'development' });
  if (!config.source)
    logger.info({
      event: 'config.defaults',
      message: 'no config file found (RUNBOOK_BOT_CONFIG or ./runbook-bot.yml): using built-in defaults with no services',
    });

  let bot: Bot;
  try {
    bot = await startBot({ config, logger });
  } catch (error) {
    logger.fatal({ event: 'bot.start_failed', err: error });
    process.exit(1);
  }

  const shutdown = (signal: string) => {
    logger.info({ event: 'signal', signal });
    // Whatever happens in stop(), the process leaves before orchestrators escalate to SIGKILL.
    setTimeout(() => {
      logger.error({ event: 'bot.shutdown_deadline', ms: SHUTDOWN_DEADLINE_MS });
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    bot.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ event: 'bot.stop_failed', err: error });
        process.exit(1);
      },
    );
  };
  // A refused app token is the operator's to fix: one line saying what, no stack, and EX_CONFIG like a bad config.
  void bot.fatal.then(async (error) => {
    logger.fatal({ event: 'slack.app_token_rejected', code: error.code }, error.message);
    await bot.stop().catch(() => undefined);
    process.exit(78);
  });
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.on('unhandledRejection', (reason) => logger.error({ event: 'process.unhandled_rejection', err: reason }));
}

await main();
