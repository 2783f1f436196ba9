// /rollback <service> [deployment] [revision] [--force]: parsed and validated.
import { UserError } from '../errors.ts';
import { splitWords } from './command-text.ts';
import { unavailable } from './health.ts';
import { requireService, type CommandHandler } from './listener.ts';

export const ROLLBACK_USAGE =
  'Usage: `/rollback <service> [deployment] [revision] [--force]`, e.g. `/rollback rlhf-audit-trail` (to the previous revision) or `/rollback rlhf-audit-trail rlhf-audit-trail 41`.';

export const handleRollbackCommand: CommandHandler = async ({ command, ack }, _context, deps) => {
  const words = splitWords(command.text).filter((word) => word !== '--force');
  if (words.length === 0 || words[0] === 'help' || words.length > 3) throw new UserError(ROLLBACK_USAGE, 'usage');
  const revision = words.length > 1 && /^\d+$/.test(words.at(-1)!) ? words.at(-1) : undefined;
  if (words.length === 3 && revision === undefined)
    throw new UserError(`The revision must be a number.\n${ROLLBACK_USAGE}`, 'usage');
  requireService(deps.config, words[0], ROLLBACK_USAGE);
  await ack({ response_type: 'ephemeral', text: unavailable('Rollbacks') });
};
