// /privacy-budget [service] and /privacy-budget reset <service>: parsed and validated.
import { UserError } from '../errors.ts';
import { splitWords } from './command-text.ts';
import { unavailable } from './health.ts';
import { requireService, type CommandHandler } from './listener.ts';

export const PRIVACY_BUDGET_USAGE =
  'Usage: `/privacy-budget [service]` to see the budget, `/privacy-budget reset <service>` to reset it.';

export const handlePrivacyBudgetCommand: CommandHandler = async ({ command, ack }, _context, deps) => {
  const words = splitWords(command.text);
  if (words[0] === 'help' || words.length > 2 || (words.length === 2 && words[0] !== 'reset')) {
    throw new UserError(PRIVACY_BUDGET_USAGE, 'usage');
  }
  const budgetServices = Object.entries(deps.config.file.services).filter(([, service]) => service.privacyBudget);
  const name = words[0] === 'reset' ? words[1] : (words[0] ?? (budgetServices.length === 1 ? budgetServices[0]![0] : undefined));
  const [serviceName, service] = requireService(deps.config, name, PRIVACY_BUDGET_USAGE);
  if (!service.privacyBudget) {
    throw new UserError(
      `\`${serviceName}\` has no privacy budget configured (\`services.${serviceName}.privacyBudget\`).`,
      'no_budget',
    );
  }
  await ack({ response_type: 'ephemeral', text: unavailable('Privacy budget reports') });
};
