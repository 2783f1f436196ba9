// Block Kit for confirmations: the question, and each state it can end in.
import type { KnownBlock } from '@slack/types';
import { escapeText, mention } from './escape.ts';

export const CONFIRM_ACTION_ID = 'confirmation:confirm';
export const CANCEL_ACTION_ID = 'confirmation:cancel';

export interface ConfirmationView {
  id: string;
  title: string;
  /** Exactly what will run, one line each (mrkdwn). */
  details: string[];
  requestedBy: string;
  approvers: string[];
  /** False under four-eyes (confirmations.requireSecondPerson): only the approvers other than the requester confirm. */
  requesterMayConfirm?: boolean;
  expiresAt: Date;
  timezone: string;
}

/** "<@A>, <@B> or <!subteam^S>": each person or group once, the requester first. */
export function confirmersText(principals: readonly string[]): string {
  const unique = [...new Set(principals)].map(mention);
  if (unique.length === 0) return 'nobody (the list is empty)';
  return unique.length === 1 ? unique[0]! : `${unique.slice(0, -1).join(', ')} or ${unique.at(-1)!}`;
}

export function confirmationRequestBlocks(view: ConfirmationView): KnownBlock[] {
  const who =
    view.requesterMayConfirm === false
      ? `${confirmersText(view.approvers.filter((principal) => principal !== view.requestedBy))} (not the requester)`
      : confirmersText([view.requestedBy, ...view.approvers]);
  return [
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `:warning: *${escapeText(view.title)}*\nThis will:\n${view.details.map((line) => `• ${line}`).join('\n')}`,
      },
    },
    {
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `Only ${who} can confirm. Expires ${formatClock(view.expiresAt, view.timezone)}.` }],
    },
    {
      type: 'actions',
      block_id: `confirmation:${view.id}`,
      elements: [
        {
          type: 'button',
          action_id: CONFIRM_ACTION_ID,
          text: { type: 'plain_text', text: 'Confirm' },
          style: 'danger',
          value: view.id,
        },
        { type: 'button', action_id: CANCEL_ACTION_ID, text: { type: 'plain_text', text: 'Cancel' }, value: view.id },
      ],
    },
  ];
}

/** The confirmation after a decision: the buttons are gone, the line says who did what. */
export function confirmationDecidedBlocks(title: string, details: string[], line: string): KnownBlock[] {
  return [
    { type: 'section', text: { type: 'mrkdwn', text: `*${title}*\n${details.map((detail) => `• ${detail}`).join('\n')}` } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: line }] },
  ];
}

export function formatClock(at: Date, timezone: string): string {
  const time = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  }).format(at);
  return `at ${time}`;
}
