// Block Kit for incidents: the declare modal, the pinned card, checklist, escalation and alarm posts, resolution.
import type { KnownBlock, View } from '@slack/types';
import { zonedFormat } from '../clock.ts';
import { formatDuration } from '../config/duration.ts';
import { SEVERITIES, type IncidentRole, type Severity } from '../config/schema.ts';
import type { FollowUp, OpenFollowUp } from '../store/follow-ups.ts';
import type { EscalationStep, Incident } from '../store/incidents.ts';
import { escapeClipped, escapeText, mention } from './escape.ts';

export { mention };

export const DECLARE_CALLBACK_ID = 'incident:declare';
export const UPDATE_CALLBACK_ID = 'incident:update';
export const FOLLOWUP_CALLBACK_ID = 'incident:followup';
/** A follow-up's Done button; its value is the follow-up's id. */
export const FOLLOWUP_DONE_ACTION = 'followup:done';
export const INCIDENT_ACTIONS = {
  ack: 'incident:ack',
  health: 'incident:health',
  escalate: 'incident:escalate',
  resolve: 'incident:resolve',
  /** On an update reminder: opens the update form; puts the next reminder off by incidents.updateSnooze. */
  postUpdate: 'incident:update-post',
  snoozeUpdate: 'incident:update-snooze',
  /** On the resolution message: opens the follow-up form. */
  addFollowUp: 'incident:followup-add',
} as const;

/** The card's role pickers: `incident:role:<role>` (a users_select in the `roles:<incident>` block). */
export const ROLE_ACTION_PREFIX = 'incident:role:';

/** A configured role with its holder's user id, or null while nobody has it. */
export interface RoleView extends IncidentRole {
  user: string | null;
}

const SEVERITY_ICON: Record<Severity, string> = {
  P0: ':red_circle:',
  P1: ':large_orange_circle:',
  P2: ':large_yellow_circle:',
  P3: ':large_blue_circle:',
};

export function severityHelp(targets: Record<Severity, number>): string {
  const words: Record<Severity, string> = {
    P0: 'critical: outage, data loss, security or privacy breach',
    P1: 'high: major degradation, auth or integrity failures',
    P2: 'medium: one component down, workaround exists',
    P3: 'low: minor bugs, docs',
  };
  return SEVERITIES.map(
    (severity) =>
      `${severity} ${words[severity]} (ack ${targets[severity] === 0 ? 'immediately' : `within ${formatDuration(targets[severity])}`})`,
  ).join('; ');
}

export interface DeclareModalOptions {
  services: string[];
  targets: Record<Severity, number>;
  title?: string;
  summary?: string;
  /** Carried through the submission (e.g. the channel the command came from). */
  privateMetadata?: string;
}

export function declareModal(options: DeclareModalOptions): View {
  const severityOptions = SEVERITIES.map((severity) => ({
    text: { type: 'plain_text' as const, text: `${severity}` },
    description: {
      type: 'plain_text' as const,
      text:
        options.targets[severity] === 0
          ? 'acknowledge immediately'
          : `acknowledge within ${formatDuration(options.targets[severity])}`,
    },
    value: severity,
  }));
  const blocks: KnownBlock[] = [
    {
      type: 'input',
      block_id: 'title',
      label: { type: 'plain_text', text: 'Title' },
      element: {
        type: 'plain_text_input',
        action_id: 'value',
        max_length: 150,
        ...(options.title ? { initial_value: options.title.slice(0, 150) } : {}),
        placeholder: { type: 'plain_text', text: 'API returns 500s for audit writes' },
      },
    },
    {
      type: 'input',
      block_id: 'severity',
      label: { type: 'plain_text', text: 'Severity' },
      hint: { type: 'plain_text', text: severityHelp(options.targets).slice(0, 2000) },
      element: {
        type: 'static_select',
        action_id: 'value',
        options: severityOptions,
        placeholder: { type: 'plain_text', text: 'P0–P3' },
      },
    },
  ];
  if (options.services.length > 0) {
    blocks.push({
      type: 'input',
      block_id: 'service',
      optional: true,
      label: { type: 'plain_text', text: 'Affected service' },
      element: {
        type: 'static_select',
        action_id: 'value',
        options: options.services
          .slice(0, 100)
          .map((service) => ({ text: { type: 'plain_text' as const, text: service }, value: service })),
      },
    });
  }
  blocks.push({
    type: 'input',
    block_id: 'summary',
    optional: true,
    label: { type: 'plain_text', text: 'What is known so far' },
    element: {
      type: 'plain_text_input',
      action_id: 'value',
      multiline: true,
      max_length: 2900,
      ...(options.summary ? { initial_value: options.summary.slice(0, 2900) } : {}),
    },
  });
  return {
    type: 'modal',
    callback_id: DECLARE_CALLBACK_ID,
    title: { type: 'plain_text', text: 'Declare an incident' },
    submit: { type: 'plain_text', text: 'Declare' },
    close: { type: 'plain_text', text: 'Cancel' },
    private_metadata: options.privateMetadata ?? '',
    blocks,
  };
}

const STATUS_WORDS: Record<Incident['status'], string> = {
  open: 'Open, not acknowledged',
  acknowledged: 'Acknowledged',
  resolved: 'Resolved',
};

/** The topic: severity, status, title, commander, then whoever holds the other roles. */
export function incidentTopic(incident: Incident, roles: RoleView[] = []): string {
  const commander = incident.commander ? mention(incident.commander) : 'none yet';
  const others = roles
    .filter((role) => role.name !== 'commander' && role.user)
    .map((role) => ` | ${escapeText(role.label)}: ${mention(role.user!)}`)
    .join('');
  const head = `${incident.severity} | ${STATUS_WORDS[incident.status]} | `;
  const tail = ` | Commander: ${commander}${others}`;
  // Slack refuses topics over 250 characters; a cut in the roles' tail leaves text, never a half mention that works.
  return `${head}${escapeClipped(incident.title, Math.max(1, 250 - head.length - tail.length))}${tail}`.slice(0, 250);
}

/** "Incident commander <@U1> · Communications lead: nobody yet · …" */
export function rolesLine(roles: RoleView[]): string {
  return roles.map((role) => `${escapeText(role.label)}: ${role.user ? mention(role.user) : 'nobody yet'}`).join(' · ');
}

export function incidentCard(
  incident: Incident,
  steps: EscalationStep[],
  timezone: string,
  roles: RoleView[] = [],
): { text: string; blocks: KnownBlock[] } {
  const reached = steps.filter((step) => step.state === 'posted').map((step) => step.label);
  const next = steps.find((step) => step.state === 'pending');
  const fields = [
    `*Severity*\n${SEVERITY_ICON[incident.severity]} ${incident.severity}`,
    `*Status*\n${STATUS_WORDS[incident.status]}`,
    `*Service*\n${incident.service ? escapeText(incident.service) : 'not set'}`,
    `*Commander*\n${incident.commander ? mention(incident.commander) : 'none yet'}`,
    `*Declared*\n${formatWhen(incident.declared_at, timezone)} by ${incident.source === 'slack' ? mention(incident.declared_by) : escapeText(incident.declared_by)}`,
    `*Escalation*\n${reached.length > 0 ? `reached ${escapeText(reached.join(', '))}` : 'on-call only'}${next && incident.status !== 'resolved' ? `; next: ${escapeText(next.label)} ${formatWhen(next.due_at, timezone)}` : ''}`,
  ];
  const blocks: KnownBlock[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: escapeClipped(`Incident #${incident.id}: ${incident.title}`, 150) },
    },
    { type: 'section', fields: fields.map((text) => ({ type: 'mrkdwn' as const, text })) },
  ];
  if (incident.summary) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: escapeClipped(incident.summary, 3000) } });
  const otherRoles = roles.filter((role) => role.name !== 'commander');
  if (otherRoles.length > 0)
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `*Roles*: ${rolesLine(otherRoles)}`.slice(0, 3000) }] });
  if (incident.status === 'resolved') {
    blocks.push({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: `:white_check_mark: Resolved ${formatWhen(incident.resolved_at!, timezone)} by ${actorText(incident.resolved_by)}${incident.resolution ? `: ${escapeClipped(incident.resolution, 2800)}` : ''}`,
        },
      ],
    });
  } else {
    blocks.push({
      type: 'actions',
      block_id: `incident:${incident.id}`,
      elements: [
        ...(incident.status === 'open'
          ? [
              {
                type: 'button' as const,
                action_id: INCIDENT_ACTIONS.ack,
                text: { type: 'plain_text' as const, text: 'Acknowledge' },
                style: 'primary' as const,
                value: String(incident.id),
              },
            ]
          : []),
        {
          type: 'button',
          action_id: INCIDENT_ACTIONS.health,
          text: { type: 'plain_text', text: 'Run health check' },
          value: String(incident.id),
        },
        ...(next
          ? [
              {
                type: 'button' as const,
                action_id: INCIDENT_ACTIONS.escalate,
                text: { type: 'plain_text' as const, text: 'Escalate now' },
                value: String(incident.id),
              },
            ]
          : []),
        {
          type: 'button',
          action_id: INCIDENT_ACTIONS.resolve,
          text: { type: 'plain_text', text: 'Resolve' },
          style: 'danger',
          value: String(incident.id),
          confirm: {
            title: { type: 'plain_text', text: 'Resolve this incident?' },
            text: {
              type: 'mrkdwn',
              text: 'This stops all escalation timers and posts the durations and a post-incident report.',
            },
            confirm: { type: 'plain_text', text: 'Resolve' },
            deny: { type: 'plain_text', text: 'Not yet' },
          },
        },
      ],
    });
  }
  if (incident.status !== 'resolved' && roles.length > 0)
    blocks.push({
      type: 'actions',
      block_id: `roles:${incident.id}`,
      elements: roles.map((role) => ({
        type: 'users_select' as const,
        action_id: `${ROLE_ACTION_PREFIX}${role.name}`,
        placeholder: { type: 'plain_text' as const, text: escapeClipped(`Set ${role.label}`, 150) },
        ...(role.user ? { initial_user: role.user } : {}),
      })),
    });
  return {
    text: `Incident #${incident.id} (${incident.severity}): ${escapeText(incident.title)}: ${STATUS_WORDS[incident.status]}`,
    blocks,
  };
}

export function checklistBlocks(items: string[]): { text: string; blocks: KnownBlock[] } {
  const text = `*First 15 minutes*\n${items.map((item, i) => `${i + 1}. ${item}`).join('\n')}`;
  return {
    text: 'First 15 minutes checklist',
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: text.slice(0, 3000) } }],
  };
}

/** Who did something: a Slack user id becomes a mention; the bot's own actors (alertmanager, health-watch) stay words. */
export function actorText(actor: string | null): string {
  if (!actor) return 'the bot';
  return /^[UW][A-Z0-9]+$/.test(actor) ? mention(actor) : escapeText(actor);
}

export interface EscalationPostInput {
  incident: Incident;
  step: EscalationStep;
  late: boolean;
  postedAt: Date;
  timezone: string;
  lastNotes: string[];
}

export function escalationPost(input: EscalationPostInput): { text: string; blocks: KnownBlock[] } {
  const { incident, step } = input;
  const who = step.notify.length > 0 ? step.notify.map(mention).join(' ') : '_(no one is configured for this level)_';
  const lateLine = input.late
    ? `\n:hourglass: *Late*: due ${formatWhen(step.due_at, input.timezone)}, posted ${formatWhen(input.postedAt, input.timezone)} (the bot was unavailable).`
    : '';
  const known = [
    `${incident.severity} · ${STATUS_WORDS[incident.status]} · open for ${formatDuration(input.postedAt.getTime() - incident.declared_at.getTime())}`,
    `Commander: ${incident.commander ? mention(incident.commander) : 'none yet'} · Service: ${incident.service ? escapeText(incident.service) : 'not set'}`,
    ...(incident.summary ? [`Summary: ${escapeText(incident.summary.slice(0, 500))}`] : []),
    ...input.lastNotes.map((note) => `Note: ${escapeText(note.slice(0, 300))}`),
  ];
  const text = `:rotating_light: *Escalation level ${step.level}: ${escapeText(step.label)}* ${who}\nIncident #${incident.id}: *${escapeText(incident.title)}*${lateLine}\n${known.map((line) => `• ${line}`).join('\n')}`;
  return {
    text: `Escalation level ${step.level} (${step.label}) for incident #${incident.id}${input.late ? ' (late)' : ''}`,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: text.slice(0, 3000) } }],
  };
}

export function ackAlarmPost(incident: Incident, responders: string[], target: number, channelId: string | null): string {
  const who = responders.map(mention).join(' ');
  const where = channelId ? ` in <#${channelId}>` : '';
  return `:alarm_clock: *Incident #${incident.id} (${incident.severity}) is not acknowledged* after ${formatDuration(target)}, its response target: *${escapeText(incident.title)}*${where}. ${who}`.trim();
}

export function announcement(incident: Incident): string {
  return `${SEVERITY_ICON[incident.severity]} *${incident.severity} incident declared*: ${escapeText(incident.title)}${incident.service ? ` (${escapeText(incident.service)})` : ''}. Join <#${incident.channel_id}>.`;
}

export function formatWhen(at: Date, timezone: string): string {
  return zonedFormat('when', timezone, () => ({
    locale: 'en-GB',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  })).format(at);
}

/** In the incident channel: a level that was paged in the announcement channel before this channel existed. */
export function escalationCopyPost(
  incident: Incident,
  step: EscalationStep,
  timezone: string,
): { text: string; blocks: KnownBlock[] } {
  const when = step.posted_at ? formatWhen(step.posted_at, timezone) : 'earlier';
  const who = step.notify.length > 0 ? step.notify.map(mention).join(' ') : '_(no one is configured for this level)_';
  const text = `:rotating_light: *Escalation level ${step.level}: ${escapeText(step.label)}* ${who} was paged ${when} in the announcement channel, while this channel was being set up.`;
  return {
    text: `Escalation level ${step.level} (${step.label}) for incident #${incident.id} was paged before this channel existed`,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }],
  };
}

/** A stakeholder update, as posted in the announcement channel and the incident channel; the text is the user's. */
export function stakeholderUpdatePost(incident: Incident, text: string, author: string): { text: string; blocks: KnownBlock[] } {
  const where = incident.channel_id ? ` · <#${incident.channel_id}>` : '';
  const heading = `:loudspeaker: *Update on incident #${incident.id} (${incident.severity}): ${escapeText(incident.title)}*`;
  return {
    text: `Update on incident #${incident.id} (${incident.severity})`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `${heading}\n${escapeText(text)}`.slice(0, 3000) } },
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `Posted by <@${author}> · ${STATUS_WORDS[incident.status]}${where}` }],
      },
    ],
  };
}

export interface UpdateReminderInput {
  incident: Incident;
  /** When the last update was posted, or undefined when none was. */
  lastUpdateAt: Date | undefined;
  dueAt: Date;
  postedAt: Date;
  late: boolean;
  snooze: number;
  timezone: string;
}

/** Reminds the commander (or whoever leads, when nobody is commander yet) to post a stakeholder update. */
export function updateReminderPost(input: UpdateReminderInput): { text: string; blocks: KnownBlock[] } {
  const { incident } = input;
  const who = incident.commander ? `<@${incident.commander}>` : 'No commander yet: whoever leads,';
  const since = input.lastUpdateAt
    ? `the last stakeholder update was ${formatDuration(input.postedAt.getTime() - input.lastUpdateAt.getTime())} ago`
    : `no stakeholder update was posted in the ${formatDuration(input.postedAt.getTime() - incident.declared_at.getTime())} since it was declared`;
  const lateLine = input.late
    ? `\n:hourglass: *Late*: due ${formatWhen(input.dueAt, input.timezone)}, sent ${formatWhen(input.postedAt, input.timezone)} (the bot was unavailable).`
    : '';
  const value = String(incident.id);
  return {
    text: `Time for a stakeholder update on incident #${incident.id}${input.late ? ' (late)' : ''}`,
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `:bell: ${who} ${since} (${incident.severity}). Post one with \`/incident update <text>\` or the button.${lateLine}`,
        },
      },
      {
        type: 'actions',
        block_id: `update-reminder:${incident.id}`,
        elements: [
          {
            type: 'button',
            action_id: INCIDENT_ACTIONS.postUpdate,
            text: { type: 'plain_text', text: 'Post update' },
            style: 'primary',
            value,
          },
          {
            type: 'button',
            action_id: INCIDENT_ACTIONS.snoozeUpdate,
            text: { type: 'plain_text', text: `Snooze ${formatDuration(input.snooze)}` },
            value,
          },
        ],
      },
    ],
  };
}

/** The form behind the reminder's Post update button. */
export function updateModal(incident: Incident): View {
  return {
    type: 'modal',
    callback_id: UPDATE_CALLBACK_ID,
    title: { type: 'plain_text', text: 'Stakeholder update' },
    submit: { type: 'plain_text', text: 'Post' },
    close: { type: 'plain_text', text: 'Cancel' },
    private_metadata: JSON.stringify({ incidentId: incident.id }),
    blocks: [
      {
        type: 'input',
        block_id: 'text',
        label: { type: 'plain_text', text: `Update on incident #${incident.id}`.slice(0, 2000) },
        hint: { type: 'plain_text', text: 'Posted to the announcement channel and this incident’s channel.' },
        element: { type: 'plain_text_input', action_id: 'value', multiline: true, max_length: 2000 },
      },
    ],
  };
}

/** "#12 Add an alert on audit write errors · owner <@U1> · due Dec 6" (the text is the user's). */
export function followUpLine(followUp: FollowUp, timezone: string, now?: Date): string {
  const overdue = now && !followUp.done_at && followUp.due_at < now ? ' *(overdue)*' : '';
  return `#${followUp.id} ${escapeText(followUp.text)} · ${followUp.owner ? `owner <@${followUp.owner}>` : 'no owner'} · due ${formatWhen(followUp.due_at, timezone)}${overdue}`;
}

function doneButton(followUp: FollowUp) {
  return {
    type: 'button' as const,
    action_id: FOLLOWUP_DONE_ACTION,
    text: { type: 'plain_text' as const, text: 'Done' },
    value: String(followUp.id),
  };
}

export function followUpPost(followUp: FollowUp, timezone: string): { text: string; blocks: KnownBlock[] } {
  return {
    text: `Follow-up #${followUp.id} added`,
    blocks: [
      {
        type: 'section',
        text: { type: 'mrkdwn', text: `:pushpin: *Follow-up* ${followUpLine(followUp, timezone)}`.slice(0, 3000) },
        accessory: doneButton(followUp),
      },
    ],
  };
}

export function followUpDonePost(followUp: FollowUp): { text: string } {
  return {
    text: `:ballot_box_with_check: Follow-up #${followUp.id} done (<@${followUp.done_by}>): ${escapeText(followUp.text)}`,
  };
}

/** `/incident followups`: the open follow-ups across incidents, each with its Done button. */
export function openFollowUpsMessage(
  followUps: OpenFollowUp[],
  timezone: string,
  now: Date,
): { text: string; blocks?: KnownBlock[] } {
  if (followUps.length === 0) return { text: 'There are no open follow-ups.' };
  const overdue = followUps.filter((followUp) => followUp.due_at < now).length;
  const heading = `*Open follow-ups*: ${followUps.length}${overdue ? `, ${overdue} overdue` : ''}`;
  return {
    text: `${followUps.length} open follow-ups`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: heading } },
      ...followUps.slice(0, 45).map((followUp): KnownBlock => ({
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `${followUpLine(followUp, timezone, now)}\nIncident #${followUp.incident_id}: ${escapeText(followUp.incident_title)}${followUp.channel_id ? ` <#${followUp.channel_id}>` : ''}`.slice(
            0,
            3000,
          ),
        },
        accessory: doneButton(followUp),
      })),
    ],
  };
}

/** The form behind the resolution message's Add follow-up button. */
export function followUpModal(incident: Incident): View {
  return {
    type: 'modal',
    callback_id: FOLLOWUP_CALLBACK_ID,
    title: { type: 'plain_text', text: 'Add a follow-up' },
    submit: { type: 'plain_text', text: 'Add' },
    close: { type: 'plain_text', text: 'Cancel' },
    private_metadata: JSON.stringify({ incidentId: incident.id }),
    blocks: [
      {
        type: 'input',
        block_id: 'text',
        label: { type: 'plain_text', text: `Follow-up of incident #${incident.id}` },
        element: { type: 'plain_text_input', action_id: 'value', max_length: 500 },
      },
      {
        type: 'input',
        block_id: 'owner',
        optional: true,
        label: { type: 'plain_text', text: 'Owner' },
        element: { type: 'users_select', action_id: 'value' },
      },
    ],
  };
}
