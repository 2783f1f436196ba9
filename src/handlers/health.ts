// /health [service|all]: which services to check, validated before anything runs.
import { UserError } from '../errors.ts';
import { splitWords } from './command-text.ts';
import { requireService, type CommandHandler } from './listener.ts';

export const HEALTH_USAGE = 'Usage: `/health [service|all]`, e.g. `/health rlhf-audit-trail` or `/health all`.';

export const handleHealthCommand: CommandHandler = async ({ command, ack }, _context, deps) => {
  const words = splitWords(command.text);
  if (words.length > 1 || words[0] === 'help') throw new UserError(HEALTH_USAGE, 'usage');
  const target = words[0] ?? 'all';
  if (target !== 'all') requireService(deps.config, target, HEALTH_USAGE);
  await ack({ response_type: 'ephemeral', text: unavailable('Health checks') });
};

export function unavailable(feature: string): string {
  return `${feature} are not available in this version of runbook-bot yet.`;
}
