// The one place that attaches handlers to the Bolt app.
import type { App, BlockButtonAction, BlockUsersSelectAction, MessageShortcut, ViewSubmitAction } from '@slack/bolt';
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

/** The message shortcut's callback id, as in manifest.yml. */
export const DECLARE_SHORTCUT_ID = 'declare_incident_from_message';
import { handlePrivacyBudgetCommand, privacyResetAction } from './privacy-budget.ts';
import { handleRollbackCommand, rollbackAction } from './rollback.ts';

export function registerHandlers(app: App, deps: IncidentDeps): void {
  // First, for every listener: the request's scope, queue, metric, error reply and audit row.
  app.use(requestMiddleware(deps));
  app.command('/incident', commandListener(deps, handleIncidentCommand(deps.incidents)));
  app.view<ViewSubmitAction>(DECLARE_CALLBACK_ID, onDeclareSubmission(deps));
  app.view<ViewSubmitAction>(UPDATE_CALLBACK_ID, onUpdateSubmission(deps));
  app.view<ViewSubmitAction>(FOLLOWUP_CALLBACK_ID, onFollowUpSubmission(deps));
  app.action<BlockButtonAction>(FOLLOWUP_DONE_ACTION, onFollowUpDone(deps));
  app.shortcut<MessageShortcut>(DECLARE_SHORTCUT_ID, onDeclareShortcut(deps));
  for (const actionId of Object.values(INCIDENT_ACTIONS)) app.action<BlockButtonAction>(actionId, onIncidentButton(deps));
  for (const role of deps.config.file.incidents.roles)
    app.action<BlockUsersSelectAction>(`${ROLE_ACTION_PREFIX}${role.name}`, onRolePicked(deps));
  app.command('/health', commandListener(deps, handleHealthCommand));
  app.command('/backup', commandListener(deps, handleBackupCommand));
  deps.confirmations.register(backupAction(deps));
  app.command('/rollback', commandListener(deps, handleRollbackCommand));
  deps.confirmations.register(rollbackAction(deps));
  app.command('/privacy-budget', commandListener(deps, handlePrivacyBudgetCommand));
  deps.confirmations.register(privacyResetAction(deps));
  app.action<BlockButtonAction>(CONFIRM_ACTION_ID, deps.confirmations.onButton);
  app.action<BlockButtonAction>(CANCEL_ACTION_ID, deps.confirmations.onButton);
}
