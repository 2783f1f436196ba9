// The one place that attaches handlers to the Bolt app.
import type { App, BlockButtonAction, BlockUsersSelectAction } from '@slack/bolt';
import { CANCEL_ACTION_ID, CONFIRM_ACTION_ID } from '../slack/confirmation-blocks.ts';
import { backupAction, handleBackupCommand } from './backup.ts';
import { handleHealthCommand } from './health.ts';
import {
  DECLARE_CALLBACK_ID,
  FOLLOWUP_CALLBACK_ID,
  FOLLOWUP_DONE_ACTION,
  INCIDENT_ACTIONS,
  ROLE_ACTION_PREFIX,
  UPDATE_CALLBACK_ID,
} from '../slack/incident-blocks.ts';
import {
  handleIncidentCommand,
  onDeclareShortcut,
  onDeclareSubmission,
  onIncidentButton,
  onFollowUpDone,
  onFollowUpSubmission,
  onRolePicked,
  onUpdateSubmission,
  type IncidentDeps,
} from './incident.ts';
import { commandListener } from './listener.ts';
import { requestMiddleware } from './request-scope.ts';
import { Router } from './router.ts';

/** The message shortcut's callback id, as in manifest.yml. */
export const DECLARE_SHORTCUT_ID = 'declare_incident_from_message';
import { handlePrivacyBudgetCommand, privacyResetAction } from './privacy-budget.ts';
import { handleRollbackCommand, rollbackAction } from './rollback.ts';

export function registerHandlers(app: App, deps: IncidentDeps): void {
  const routes = new Router();
  routes.command('/incident', commandListener(deps, handleIncidentCommand(deps.incidents)));
  routes.view(DECLARE_CALLBACK_ID, onDeclareSubmission(deps));
  routes.view(UPDATE_CALLBACK_ID, onUpdateSubmission(deps));
  routes.view(FOLLOWUP_CALLBACK_ID, onFollowUpSubmission(deps));
  routes.action<BlockButtonAction>(FOLLOWUP_DONE_ACTION, onFollowUpDone(deps));
  routes.shortcut(DECLARE_SHORTCUT_ID, onDeclareShortcut(deps));
  for (const actionId of Object.values(INCIDENT_ACTIONS)) routes.action<BlockButtonAction>(actionId, onIncidentButton(deps));
  for (const role of deps.config.file.incidents.roles)
    routes.action<BlockUsersSelectAction>(`${ROLE_ACTION_PREFIX}${role.name}`, onRolePicked(deps));
  routes.command('/health', commandListener(deps, handleHealthCommand));
  routes.command('/backup', commandListener(deps, handleBackupCommand));
  deps.confirmations.register(backupAction(deps));
  routes.command('/rollback', commandListener(deps, handleRollbackCommand));
  deps.confirmations.register(rollbackAction(deps));
  routes.command('/privacy-budget', commandListener(deps, handlePrivacyBudgetCommand));
  deps.confirmations.register(privacyResetAction(deps));
  routes.action<BlockButtonAction>(CONFIRM_ACTION_ID, deps.confirmations.onButton);
  routes.action<BlockButtonAction>(CANCEL_ACTION_ID, deps.confirmations.onButton);
  // First, for every request: the request's scope, queue, metric, error reply and audit row; then its listener.
  app.use(requestMiddleware(deps));
  app.use(routes.middleware());
}
