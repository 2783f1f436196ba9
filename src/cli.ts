// The CLI: the bot's tasks for a terminal, cron or scripts, without Slack. Exit codes: 0 ok, 1 warn/failed, 2 critical, 64 usage, 78 config.
import { loadConfig } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { ConfigError, UserError, errorMessage } from './errors.ts';
import { unescapeText } from './slack/escape.ts';
import { openMigratedStore, storeOptions } from './store/open.ts';
import { auditCommands } from './cli/audit.ts';
import { backupCommands } from './cli/backup-commands.ts';
import { healthCommands } from './cli/health-commands.ts';
import { incidentCommands } from './cli/incident-commands.ts';
import { rollbackCommands } from './cli/rollback-commands.ts';
import type { CliCommand, CliIo } from './cli/command.ts';

const EXIT_USAGE = 64;
const EXIT_CONFIG = 78;

const commands: Record<string, CliCommand> = {
  'config check': {
    usage: 'runbook-bot config check',
    summary: 'validate the environment and config file, and list the services',
    async run(_args, config, io) {
      io.out(`config: ${config.source ?? 'built-in defaults (no config file)'}`);
      io.out(`time zone: ${config.timezone}`);
      const services = Object.entries(config.file.services);
      io.out(`services (${services.length}):`);
      for (const [name, service] of services) {
        const parts = [
          service.kubernetes && `kubernetes ${service.kubernetes.namespace}`,
          service.health && 'health',
          service.backup && `backup s3://${service.backup.bucket}/${service.backup.prefix}`,
          service.privacyBudget && 'privacy budget',
        ].filter(Boolean);
        io.out(`  ${name}: ${parts.join(', ') || 'no capabilities configured'}`);
      }
      return 0;
    },
  },
  ...auditCommands,
  ...rollbackCommands,
  ...backupCommands,
  ...healthCommands,
  ...incidentCommands,
  migrate: {
    usage: 'runbook-bot migrate',
    summary: 'apply database migrations (the bot also does this at start-up)',
    async run(_args, config, io) {
      const { store, migration: report, imported } = await openMigratedStore(storeOptions(config));
      try {
        if (imported)
          io.out(
            `sqlite: imported ${imported.rows} rows from the PGlite data of an earlier version (kept at ${imported.keptAt})`,
          );
        io.out(
          report.applied.length === 0
            ? `${store.dialect}: up to date at version ${report.latest}`
            : `${store.dialect}: applied ${report.applied.map((m) => `${m.version} ${m.name}`).join(', ')}`,
        );
        return 0;
      } finally {
        await store.close();
      }
    },
  },
};

export function usage(): string {
  const width = Math.max(...Object.values(commands).map((command) => command.usage.length));
  return [
    'Usage: runbook-bot <command> [options]',
    '',
    ...Object.values(commands).map((command) => `  ${command.usage.padEnd(width)}  ${command.summary}`),
    '',
    'Configuration comes from the environment and RUNBOOK_BOT_CONFIG (default ./runbook-bot.yml), as for the bot.',
  ].join('\n');
}

/** Runs one CLI invocation and returns its exit code; never calls process.exit itself. */
export async function runCli(argv: string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    io.out(usage());
    return argv.length === 0 ? EXIT_USAGE : 0;
  }
  const key = Object.keys(commands)
    .sort((a, b) => b.length - a.length)
    .find((name) => argv.slice(0, name.split(' ').length).join(' ') === name);
  if (!key) {
    io.err(`runbook-bot: unknown command "${argv.join(' ')}"\n\n${usage()}`);
    return EXIT_USAGE;
  }
  let config: Config;
  try {
    config = loadConfig({ env, mode: 'cli' });
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(error.message);
      return EXIT_CONFIG;
    }
    throw error;
  }
  try {
    return await commands[key]!.run(argv.slice(key.split(' ').length), config, io, env);
  } catch (error) {
    if (error instanceof UserError) {
      // The tasks write their messages for Slack (a name the user typed is escaped there); a terminal shows it as typed.
      io.err(`runbook-bot: ${unescapeText(error.message)}`);
      return EXIT_USAGE;
    }
    io.err(`runbook-bot: ${errorMessage(error)}`);
    return 1;
  }
}

/** The process entry used by bin/runbook-bot.js. */
export async function cliMain(): Promise<void> {
  const code = await runCli(process.argv.slice(2), { out: (line) => console.log(line), err: (line) => console.error(line) });
  process.exitCode = code;
}
