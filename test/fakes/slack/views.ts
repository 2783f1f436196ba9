// The views area: modals opened, pushed (a stack of at most three) and updated, each trigger id used once.
import { asArray, isRecord, str } from './args.ts';
import { blocksProblem, textOf } from './blocks.ts';
import type { SlackState } from './state.ts';
import { LIMITS, SlackApiError, type Args, type FakeView, type Handler } from './types.ts';

/** views.open, views.push and views.update: modals as a stack of at most three, one view per trigger id. */
export function viewMethods(s: SlackState): Record<string, Handler> {
  return {
    'views.open': (args) => {
      const triggerId = useTrigger(s, args);
      const view = storeView(s, args, 'views.open', triggerId, undefined);
      return { view: viewJson(s, view) };
    },
    'views.push': (args) => {
      const triggerId = useTrigger(s, args);
      const roots = [...s.views.values()].filter((v) => v.openedBy === 'views.open');
      const root = roots.at(-1);
      if (!root) throw new SlackApiError('not_found');
      const stack = [...s.views.values()].filter((v) => v.rootViewId === root.id);
      if (stack.length >= LIMITS.viewStack) throw new SlackApiError('push_limit_reached');
      const view = storeView(s, args, 'views.push', triggerId, { rootViewId: root.id, previousViewId: stack.at(-1)!.id });
      return { view: viewJson(s, view) };
    },
    'views.update': (args) => {
      const viewId = str(args, 'view_id');
      const externalId = str(args, 'external_id');
      if (!viewId && !externalId)
        throw new SlackApiError('invalid_arguments', {
          response_metadata: { messages: ['[ERROR] either view_id or external_id is required'] },
        });
      const existing = [...s.views.values()].find((v) => (viewId ? v.id === viewId : v.externalId === externalId));
      if (!existing) throw new SlackApiError('not_found');
      if (str(args, 'hash') && str(args, 'hash') !== existing.hash) throw new SlackApiError('hash_conflict');
      const view = storeView(s, args, existing.openedBy, existing.triggerId, {
        id: existing.id,
        rootViewId: existing.rootViewId,
        previousViewId: existing.previousViewId,
      });
      return { view: viewJson(s, view) };
    },
  };
}

function useTrigger(s: SlackState, args: Args): string {
  const triggerId = str(args, 'trigger_id');
  if (!triggerId && !str(args, 'interactivity_pointer')) {
    throw new SlackApiError('invalid_arguments', {
      response_metadata: { messages: ['[ERROR] missing required field: trigger_id'] },
    });
  }
  // A trigger id opens one view, once (docs.slack.dev/interactivity/handling-user-interaction).
  if (s.usedTriggers.has(triggerId)) throw new SlackApiError('exchanged_trigger_id');
  s.usedTriggers.add(triggerId);
  return triggerId;
}

function storeView(
  s: SlackState,
  args: Args,
  openedBy: FakeView['openedBy'],
  triggerId: string,
  place: { id?: string; rootViewId: string; previousViewId: string | null } | undefined,
): FakeView {
  const view = args.view;
  if (!isRecord(view))
    throw new SlackApiError('invalid_arguments', { response_metadata: { messages: ['[ERROR] missing required field: view'] } });
  const problem = viewProblem(view);
  if (problem) throw new SlackApiError('invalid_arguments', { response_metadata: { messages: [`[ERROR] ${problem}`] } });
  const id = place?.id ?? s.newId('V');
  const stored: FakeView = {
    id,
    type: String(view.type),
    callbackId: typeof view.callback_id === 'string' ? view.callback_id : '',
    privateMetadata: typeof view.private_metadata === 'string' ? view.private_metadata : '',
    externalId: typeof view.external_id === 'string' ? view.external_id : '',
    hash: `${Date.now()}.${s.newId('H')}`,
    rootViewId: place?.rootViewId ?? id,
    previousViewId: place?.previousViewId ?? null,
    title: view.title,
    blocks: asArray(view.blocks) ?? [],
    view,
    openedBy,
    triggerId,
  };
  s.views.set(id, stored);
  return stored;
}

/** A view as views.* answer with it. */
export function viewJson(s: SlackState, view: FakeView): Args {
  return {
    ...view.view,
    id: view.id,
    team_id: s.workspace.teamId,
    type: view.type,
    callback_id: view.callbackId,
    private_metadata: view.privateMetadata,
    external_id: view.externalId,
    state: { values: {} },
    hash: view.hash,
    root_view_id: view.rootViewId,
    previous_view_id: view.previousViewId,
    app_id: s.workspace.appId,
    bot_id: s.workspace.botId,
  };
}

function viewProblem(view: Args): string | undefined {
  if (view.type !== 'modal' && view.type !== 'home') return 'view.type must be modal or home';
  if (!Array.isArray(view.blocks)) return 'missing required field: blocks';
  if (view.type === 'modal') {
    const title = textOf(view.title);
    if (title === undefined) return 'missing required field: title';
    if (title.length > LIMITS.viewTitle)
      return `must be less than ${LIMITS.viewTitle + 1} characters [json-pointer:/view/title/text]`;
  }
  return blocksProblem(view.blocks, LIMITS.viewBlocks);
}
