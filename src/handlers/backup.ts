// /backup [service] [database|config|full] and /backup verify [service]: parsed and validated.
import { UserError } from '../errors.ts';
import { splitWords } from './command-text.ts';
import { unavailable } from './health.ts';
import { requireService, type CommandHandler } from './listener.ts';

export const BACKUP_USAGE =
  'Usage: `/backup <service> [database|config|full]` to take a backup, `/backup verify <service>` to test-restore the newest one.';
const KINDS = ['database', 'config', 'full'] as const;

export const handleBackupCommand: CommandHandler = async ({ command, ack }, _context, deps) => {
  const words = splitWords(command.text);
  if (words[0] === 'help') throw new UserError(BACKUP_USAGE, 'usage');
  const verify = words[0] === 'verify';
  const [serviceName, kind = 'database', ...extra] = verify ? words.slice(1) : words;
  if (extra.length > 0 || (verify && words.length > 2)) throw new UserError(BACKUP_USAGE, 'usage');
  if (!verify && !KINDS.includes(kind as (typeof KINDS)[number])) {
    throw new UserError(`\`${kind}\` is not a backup kind: use database, config or full.\n${BACKUP_USAGE}`, 'usage');
  }
  requireService(deps.config, serviceName, BACKUP_USAGE);
  await ack({ response_type: 'ephemeral', text: unavailable('Backups') });
};
