// /incident, the declare modal and shortcut, and the incident card's buttons.
import type {
  AllMiddlewareArgs,
  BlockButtonAction,
  BlockUsersSelectAction,
  MessageShortcut,
  SlackActionMiddlewareArgs,
  SlackShortcutMiddlewareArgs,
  SlackViewMiddlewareArgs,
  ViewSubmitAction,
} from '@slack/bolt';
import { z } from 'zod';
import { severitySchema, SEVERITIES, type Severity } from '../config/schema.ts';
import { NotPermittedError, UserError } from '../errors.ts';
import type { IncidentService } from '../incidents/lifecycle.ts';
import { slackErrorCode } from '../clients/slack.ts';
import { operationsReportPost } from '../schedule/jobs.ts';
import { rolesOf } from '../incidents/roles.ts';
import {
  declareModal,
  formatWhen,
  INCIDENT_ACTIONS,
  followUpModal,
  openFollowUpsMessage,
  ROLE_ACTION_PREFIX,
  rolesLine,
  updateModal,
} from '../slack/incident-blocks.ts';
import { escapeText, mention } from '../slack/escape.ts';
import { listOpenFollowUps } from '../store/follow-ups.ts';
import { getIncident, getIncidentByChannel, listOpenIncidents, type Incident } from '../store/incidents.ts';
import { parseUserMention, restAfterFirstWord, splitWords } from './command-text.ts';
import type { CommandHandler, HandlerDeps } from './listener.ts';
import { scopeOf } from './request-scope.ts';

export const INCIDENT_USAGE = [
  'Usage:',
  '• `/incident`: declare an incident (opens a form)',
  '• `/incident declare [P0-P3] <title>`: declare straight away',
  '• in an incident channel: `/incident ack`, `/incident severity <P0-P3>`, `/incident commander @user`, `/incident role @user <role>`, `/incident note <text>`, `/incident update <text>` (to stakeholders), `/incident status`, `/incident resolve [summary]`, `/incident reopen`',
  '• in an incident channel, also after it is resolved: `/incident followup <text> [@owner]`, `/incident followup done <id>`',
  '• `/incident list`: open incidents · `/incident followups`: open follow-ups of all incidents',
].join('\n');

const IN_CHANNEL_SUBCOMMANDS = [
  'ack',
  'severity',
  'commander',
  'role',
  'note',
  'update',
  'followup',
  'status',
  'resolve',
  'reopen',
];

const FOLLOWUP_USAGE = 'Describe the follow-up: `/incident followup <text> [@owner]`, or `/incident followup done <id>`.';
const followUpTextSchema = z.string().trim().min(1, FOLLOWUP_USAGE).max(500, 'Keep the follow-up under 500 characters.');

export type FollowUpCommand = { kind: 'add'; text: string; owner: string | null } | { kind: 'done'; id: number };

/** `<text> [@owner]` or `done <id>` → what to do with a follow-up. */
export function parseFollowUpText(text: string): FollowUpCommand {
  const done = /^done\s+#?(\S+)$/i.exec(text.trim());
  if (done) {
    const id = z.coerce.number().int().positive().safeParse(done[1]);
    if (!id.success) throw new UserError(`\`${escapeText(done[1]!)}\` is not a follow-up number. ${FOLLOWUP_USAGE}`, 'usage');
    return { kind: 'done', id: id.data };
  }
  const trailing = /\s*(<@[UW][A-Z0-9]+(?:\|[^>]*)?>)\s*$/.exec(text);
  const owner = trailing ? parseUserMention(trailing[1]!)! : null;
  const parsed = followUpTextSchema.safeParse(trailing ? text.slice(0, trailing.index) : text);
  if (!parsed.success) throw new UserError(parsed.error.issues[0]!.message, 'usage');
  return { kind: 'add', text: parsed.data, owner };
}

const updateTextSchema = z
  .string()
  .trim()
  .min(1, 'Add the update text: `/incident update <text>`; it goes to the announcement channel and this channel.')
  .max(2000, 'Keep the update under 2000 characters.');

/** The update's text, or a UserError with the reason. */
function parseUpdateText(text: string): string {
  const parsed = updateTextSchema.safeParse(text);
  if (!parsed.success) throw new UserError(parsed.error.issues[0]!.message, 'usage');
  return parsed.data;
}

export type IncidentDeps = HandlerDeps & { incidents: IncidentService };

export function handleIncidentCommand(incidents: IncidentService): CommandHandler {
  return async (args, context, deps) => {
    const { command, ack, respond } = args;
    const words = splitWords(command.text);
    const sub = words[0]?.toLowerCase();
    const { config } = deps;

    if (sub === undefined) {
      await context.authorize('incident');
      // The modal must open within Slack's 3 s trigger window: not behind other work in the queue.
      context.runsAtOnce();
      await ack();
      await deps.slack.views.open({
        trigger_id: command.trigger_id,
        view: declareModal({
          services: Object.keys(config.file.services),
          targets: config.file.incidents.severities,
          privateMetadata: JSON.stringify({ channel: command.channel_id }),
        }),
      });
      return;
    }
    if (sub === 'help') throw new UserError(INCIDENT_USAGE, 'usage');
    if (sub === 'declare') {
      const parsed = parseDeclareText(
        restAfterFirstWord(command.text),
        Object.keys(config.file.services),
        config.file.incidents.defaultSeverity,
      );
      await context.authorize('incident', parsed.service);
      await ack({ response_type: 'ephemeral', text: `Declaring ${parsed.severity} incident "${escapeText(parsed.title)}"…` });
      const { incident, created } = await incidents.declare({
        key: `command:${command.trigger_id}`,
        ...parsed,
        declaredBy: command.user_id,
      });
      await respond({ response_type: 'ephemeral', replace_original: true, text: declaredText(incident, created) });
      return;
    }
    if (sub === 'followups') {
      await ack();
      const open = await listOpenFollowUps(deps.store, 45);
      const message = openFollowUpsMessage(open, config.timezone, deps.clock.now());
      await respond({ response_type: 'ephemeral', text: message.text, ...(message.blocks ? { blocks: message.blocks } : {}) });
      return;
    }
    if (sub === 'list') {
      // A list being read for someone else is joined, not read again: such a request needs no place in the line of
      // incident work, so a crowd typing `/incident list` during an incident is never turned away. The first of a crowd
      // announces its read, so those right behind it join that one. Nothing is served from an earlier read: a joiner
      // arrived before the read it joins started, or while it ran.
      if (deps.reads.covers(OPEN_INCIDENTS_READ)) context.runsAtOnce();
      else deps.reads.announce(OPEN_INCIDENTS_READ, LIST_ANNOUNCED_FOR_MS);
      // Ack before reading the store: Slack's answer never waits for the database.
      await ack();
      const { value: text } = await deps.reads.read(OPEN_INCIDENTS_READ, () => openIncidentsText(deps), { inFlightOnly: true });
      await respond({ response_type: 'ephemeral', text });
      return;
    }
    if (sub === 'report') {
      const period = (words[1] ?? '7d').toLowerCase();
      const days = { '7d': 7, '30d': 30 }[period];
      if (!days) throw new UserError('Choose a period: `/incident report 7d` or `/incident report 30d`.', 'usage');
      await ack();
      const { post } = await operationsReportPost(deps, days, `Operations report (${period})`);
      if (!post) throw new Error('the report has nothing to post');
      await respond({
        response_type: 'in_channel',
        text: post.text,
        ...(post.blocks ? { blocks: post.blocks } : {}),
      });
      // The chart goes to the channel when the bot may post there; the numbers above stand on their own.
      const { image } = post;
      if (!image) return;
      await deps.slack
        .filesUploadV2({ channel_id: command.channel_id, file: image.bytes, filename: image.filename, title: image.title })
        .catch((error: unknown) => context.log.info({ event: 'report.chart_not_uploaded', code: slackErrorCode(error) }));
      return;
    }
    if (!IN_CHANNEL_SUBCOMMANDS.includes(sub))
      throw new UserError(`\`${escapeText(words[0] ?? '')}\` is not an /incident subcommand.\n${INCIDENT_USAGE}`, 'usage');

    // What the words say is checked before the ack; the incident is read after it, so the ack never waits for the store.
    let severity: Severity | undefined;
    let commander: string | undefined;
    let role: { user: string; role: string } | undefined;
    const rest = restAfterFirstWord(command.text);
    if (sub === 'severity') {
      const parsed = severitySchema.safeParse(words[1]?.toUpperCase());
      if (!parsed.success) throw new UserError(`Give a severity: \`/incident severity <${SEVERITIES.join('|')}>\`.`, 'usage');
      severity = parsed.data;
    }
    if (sub === 'commander') {
      commander = words[1] === 'me' ? command.user_id : parseUserMention(words[1] ?? '');
      if (!commander) throw new UserError('Mention the new commander: `/incident commander @user` (or `me`).', 'usage');
    }
    if (sub === 'role')
      role = parseRoleText(
        words.slice(1),
        command.user_id,
        config.file.incidents.roles.map((r) => r.name),
      );
    const update = sub === 'update' ? parseUpdateText(rest) : undefined;
    const followUp = sub === 'followup' ? parseFollowUpText(rest) : undefined;
    if (sub === 'note' && !rest) throw new UserError('Add the note text: `/incident note <text>`.', 'usage');
    await ack();

    const incident = await getIncidentByChannel(deps.store, command.channel_id);
    if (!incident) {
      throw new UserError(
        `\`/incident ${sub}\` works inside an incident channel, and this is not one.\n${await openIncidentsText(deps)}`,
        'not_incident_channel',
      );
    }
    context.auditParams.incident = incident.id;
    const log = context.log.child({ incidentId: incident.id });
    switch (sub) {
      case 'status':
        await respond({ response_type: 'ephemeral', text: await statusText(incident, deps) });
        return;
      case 'ack':
        await incidents.acknowledge(incident, command.user_id);
        return;
      case 'severity':
        await incidents.changeSeverity(incident, severity!, command.user_id);
        return;
      case 'commander':
        await incidents.setCommander(incident, commander!, command.user_id);
        return;
      case 'role':
        await incidents.assignRole(incident, role!.role, role!.user, command.user_id);
        return;
      case 'note':
        if ((await incidents.addNote(incident, rest, command.user_id)) === 'queued')
          await respond({
            response_type: 'ephemeral',
            text: ':hourglass: Your note is on the timeline. Slack is not taking messages right now, so it will appear in this channel as soon as Slack accepts it.',
          });
        return;
      case 'update':
        if ((await incidents.postUpdate(incident, update!, command.user_id)) === 'queued')
          await respond({
            response_type: 'ephemeral',
            text: ':hourglass: Your update is on the timeline. Slack is not taking messages right now, so it will be posted as soon as Slack accepts it.',
          });
        return;
      case 'followup':
        if (followUp!.kind === 'done') {
          const done = await incidents.followUps.markDone(followUp!.id, command.user_id);
          await respond({ response_type: 'ephemeral', text: `Follow-up #${done.id} is marked done.` });
        } else {
          const added = await incidents.followUps.add(incident, followUp!, command.user_id);
          context.auditParams.followUp = added.id;
        }
        return;
      case 'reopen':
        await context.authorize('resolve', incident.service ?? undefined);
        await incidents.reopen(incident, command.user_id);
        log.info({ event: 'incident.reopened' });
        return;
      case 'resolve': {
        await context.authorize('resolve', incident.service ?? undefined);
        if (incident.status === 'resolved') throw new UserError('This incident is already resolved.', 'incident_resolved');
        await incidents.resolve(incident, command.user_id, rest);
        log.info({ event: 'incident.resolved' });
        return;
      }
    }
  };
}

/** `@user <role>` (or `<role> @user`; `me` for oneself) → who gets which configured role. */
export function parseRoleText(words: string[], self: string, roles: string[]): { user: string; role: string } {
  const usage = `Give a person and a role: \`/incident role @user <role>\`, with a role among ${roles.map((r) => `\`${r}\``).join(', ')}.`;
  const userOf = (word: string | undefined) => (word?.toLowerCase() === 'me' ? self : parseUserMention(word ?? ''));
  const [first, second] = words;
  const mentionFirst = userOf(first) !== undefined;
  const parsed = z
    .object({
      user: z.string({ error: usage }),
      role: z.enum(roles as [string, ...string[]], { error: usage }),
    })
    .safeParse({
      user: mentionFirst ? userOf(first) : userOf(second),
      role: (mentionFirst ? second : first)?.toLowerCase(),
    });
  if (!parsed.success || words.length !== 2) throw new UserError(usage, 'usage');
  return parsed.data;
}

/** `[P0-P3] [service] <title>` → declaration fields. */
export function parseDeclareText(
  text: string,
  services: string[],
  defaultSeverity: Severity,
): { title: string; severity: Severity; service: string | undefined } {
  let rest = text.trim();
  let severity = defaultSeverity;
  let service: string | undefined;
  const first = /^(p[0-3])\b\s*/i.exec(rest);
  if (first) {
    severity = first[1]!.toUpperCase() as Severity;
    rest = rest.slice(first[0].length);
  }
  const next = /^(\S+)\s+/.exec(rest);
  if (next && services.includes(next[1]!)) {
    service = next[1];
    rest = rest.slice(next[0].length);
  }
  const title = rest.trim();
  if (!title)
    throw new UserError(
      'Give the incident a title: `/incident declare [P0-P3] [service] <title>`, or run `/incident` for the form.',
      'usage',
    );
  return { title, severity, service };
}

function declaredText(incident: Incident, created: boolean): string {
  const where = incident.channel_id
    ? `<#${incident.channel_id}>`
    : 'its channel, which is still being set up (Slack is busy; escalation pages go to the announcement channel until it exists)';
  return created
    ? `:rotating_light: Declared incident #${incident.id} (${incident.severity}): ${where}`
    : `This declaration was already made: incident #${incident.id} in ${where}.`;
}

/** The shared read of `/incident list`, and how long its first caller's announcement lets others join it. */
const OPEN_INCIDENTS_READ = 'incidents:open';
const LIST_ANNOUNCED_FOR_MS = 2_000;

async function openIncidentsText(deps: HandlerDeps): Promise<string> {
  const open = await listOpenIncidents(deps.store);
  if (open.length === 0) return 'There are no open incidents. Run `/incident` to declare one.';
  return `Open incidents:\n${open
    .map(
      (incident) =>
        `• #${incident.id} ${incident.severity} ${escapeText(incident.title)}: ${incident.status}${incident.channel_id ? ` in <#${incident.channel_id}>` : ''}`,
    )
    .join('\n')}`;
}

async function statusText(incident: Incident, deps: HandlerDeps): Promise<string> {
  const tz = deps.config.timezone;
  return [
    `*Incident #${incident.id}: ${escapeText(incident.title)}*`,
    `Severity ${incident.severity} · ${incident.status} · declared ${formatWhen(incident.declared_at, tz)}`,
    `Commander: ${incident.commander ? mention(incident.commander) : 'none yet'} · Service: ${incident.service ? escapeText(incident.service) : 'not set'}`,
    rolesLine((await rolesOf(deps.store, deps.config, incident)).filter((role) => role.name !== 'commander')),
    incident.acknowledged_at
      ? `Acknowledged ${formatWhen(incident.acknowledged_at, tz)} by <@${incident.acknowledged_by}>`
      : 'Not acknowledged yet',
  ].join('\n');
}

// --- the declare modal ---

const declareSubmissionSchema = z.object({
  title: z.string().trim().min(3, 'Give a title of at least 3 characters.').max(150, 'Keep the title under 150 characters.'),
  severity: z.enum(SEVERITIES, { error: 'Choose a severity.' }),
  service: z.string().optional(),
  summary: z.string().max(2900, 'Keep the summary under 2900 characters.').optional(),
});

type ViewArgs = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs;

export function onDeclareSubmission(deps: IncidentDeps) {
  return async ({ body, view, context }: ViewArgs): Promise<void> => {
    const scope = scopeOf(context);
    const ack = scope.ack as ViewArgs['ack'];
    const values = view.state.values;
    const raw = {
      title: values.title?.value?.value ?? '',
      severity: values.severity?.value?.selected_option?.value,
      service: values.service?.value?.selected_option?.value ?? undefined,
      summary: values.summary?.value?.value ?? undefined,
    };
    const parsed = declareSubmissionSchema.safeParse(raw);
    if (!parsed.success) {
      const errors: Record<string, string> = {};
      for (const issue of parsed.error.issues) errors[String(issue.path[0])] ??= issue.message;
      scope.outcome = 'user_error';
      await ack({ response_action: 'errors', errors });
      return;
    }
    if (parsed.data.service && !deps.config.file.services[parsed.data.service]) {
      scope.outcome = 'user_error';
      await ack({ response_action: 'errors', errors: { service: 'That service is no longer configured.' } });
      return;
    }
    // Decided in the form when that needs no Slack call; a group that has to be looked up is checked after the ack,
    // and a refusal then comes as a private message where the form was opened.
    let allowedNow: boolean;
    try {
      allowedNow = deps.permissions.requireNow('incident', parsed.data.service, body.user.id);
    } catch (error) {
      if (!(error instanceof NotPermittedError)) throw error;
      scope.outcome = 'denied';
      await ack({
        response_action: 'errors',
        errors: { title: 'You are not allowed to declare incidents here; ask someone in the incident permission group.' },
      });
      return;
    }
    const origin = parseOrigin(view.private_metadata);
    scope.replyChannel = origin.channel;
    Object.assign(scope.auditParams, { title: parsed.data.title, severity: parsed.data.severity, service: parsed.data.service });
    await ack();
    if (!allowedNow) await deps.permissions.require('incident', parsed.data.service, body.user.id);
    // The view id is the same however often Slack delivers this submission: one incident, one channel.
    const { incident, created } = await deps.incidents.declare({
      key: `view:${view.id}`,
      ...parsed.data,
      declaredBy: body.user.id,
    });
    scope.auditParams.incident = incident.id;
    if (origin.channel)
      await deps.slack.chat
        .postEphemeral({ channel: origin.channel, user: body.user.id, text: declaredText(incident, created) })
        .catch(() => undefined);
  };
}

function parseOrigin(metadata: string): { channel?: string; messageText?: string } {
  try {
    return z.object({ channel: z.string().optional() }).parse(JSON.parse(metadata || '{}'));
  } catch {
    return {};
  }
}

type ShortcutArgs = SlackShortcutMiddlewareArgs<MessageShortcut> & AllMiddlewareArgs;

export function onDeclareShortcut(deps: IncidentDeps) {
  return async ({ shortcut, context }: ShortcutArgs): Promise<void> => {
    const scope = scopeOf(context);
    // The modal must open within Slack's 3 s trigger window: not behind other work in the queue.
    scope.runsAtOnce();
    await scope.ack();
    const text = shortcut.message.text ?? '';
    const author = shortcut.message.user ? ` (from <@${shortcut.message.user}>)` : '';
    await deps.slack.views.open({
      trigger_id: shortcut.trigger_id,
      view: declareModal({
        services: Object.keys(deps.config.file.services),
        targets: deps.config.file.incidents.severities,
        title: text.split('\n')[0]?.slice(0, 100),
        summary: `${text}${author}`.slice(0, 2900),
        privateMetadata: JSON.stringify({ channel: shortcut.channel.id }),
      }),
    });
  };
}

// --- the card's buttons ---

type ButtonArgs = SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs;

export function onIncidentButton(deps: IncidentDeps) {
  return async ({ action, body, respond, context }: ButtonArgs): Promise<void> => {
    const scope = scopeOf(context);
    // The update form must open within Slack's 3 s trigger window: not behind other work in the queue.
    if (action.action_id === INCIDENT_ACTIONS.postUpdate || action.action_id === INCIDENT_ACTIONS.addFollowUp) scope.runsAtOnce();
    await scope.ack();
    const userId = body.user.id;
    const incident = await getIncident(deps.store, Number(action.value));
    if (!incident) throw new UserError('This incident no longer exists.', 'not_found');
    switch (action.action_id) {
      case INCIDENT_ACTIONS.ack:
        await deps.incidents.acknowledge(incident, userId);
        break;
      case INCIDENT_ACTIONS.health:
        await deps.incidents.runHealthCheck(incident, userId);
        break;
      case INCIDENT_ACTIONS.escalate: {
        const label = await deps.incidents.escalateNow(incident, userId);
        await respond({ response_type: 'ephemeral', replace_original: false, text: `Escalating to ${label} now.` });
        break;
      }
      case INCIDENT_ACTIONS.resolve:
        await deps.permissions.require('resolve', incident.service ?? undefined, userId);
        await deps.incidents.resolve(incident, userId, '');
        break;
      case INCIDENT_ACTIONS.postUpdate:
        await deps.slack.views.open({ trigger_id: body.trigger_id, view: updateModal(incident) });
        break;
      case INCIDENT_ACTIONS.addFollowUp:
        await deps.slack.views.open({ trigger_id: body.trigger_id, view: followUpModal(incident) });
        break;
      case INCIDENT_ACTIONS.snoozeUpdate: {
        const next = await deps.incidents.snoozeUpdateReminder(incident, userId);
        await respond({
          response_type: 'ephemeral',
          replace_original: false,
          text: `:zzz: Snoozed: the next update reminder comes at ${formatWhen(next, deps.config.timezone)}.`,
        });
        break;
      }
      default:
        throw new Error(`unknown incident action ${action.action_id}`);
    }
  };
}

type RoleSelectArgs = SlackActionMiddlewareArgs<BlockUsersSelectAction> & AllMiddlewareArgs;

/** The card's role pickers: choosing a person gives them the role, as `/incident role` does. */
export function onRolePicked(deps: IncidentDeps) {
  return async ({ action, body, context }: RoleSelectArgs): Promise<void> => {
    await scopeOf(context).ack();
    const parsed = z
      .object({
        incidentId: z.coerce.number().int().positive(),
        role: z.string().min(1),
        user: z.string().regex(/^[UW][A-Z0-9]+$/),
      })
      .safeParse({
        incidentId: /^roles:(\d+)$/.exec(action.block_id)?.[1],
        role: action.action_id.slice(ROLE_ACTION_PREFIX.length),
        user: action.selected_user,
      });
    if (!parsed.success) throw new UserError('Pick a person for the role.', 'usage');
    const incident = await getIncident(deps.store, parsed.data.incidentId);
    if (!incident) throw new UserError('This incident no longer exists.', 'not_found');
    scopeOf(context).auditParams.incident = incident.id;
    await deps.incidents.assignRole(incident, parsed.data.role, parsed.data.user, body.user.id);
  };
}

/**
 * A form opened for one incident (the reminder's update form, the resolution message's follow-up form): its `text`
 * is checked in the form, and `run` is called after the ack with the incident as stored now.
 */
function onIncidentForm(
  deps: IncidentDeps,
  textSchema: z.ZodType<string>,
  run: (incident: Incident, text: string, view: ViewArgs['view'], userId: string) => Promise<unknown>,
) {
  return async ({ body, view, context }: ViewArgs): Promise<void> => {
    const scope = scopeOf(context);
    const ack = scope.ack as ViewArgs['ack'];
    const text = textSchema.safeParse(view.state.values.text?.value?.value ?? '');
    if (!text.success) {
      scope.outcome = 'user_error';
      await ack({ response_action: 'errors', errors: { text: text.error.issues[0]!.message } });
      return;
    }
    let raw: unknown = {};
    try {
      raw = JSON.parse(view.private_metadata || '{}');
    } catch {
      // A form of an older version: treated as not belonging to an incident.
    }
    const meta = z.object({ incidentId: z.number().int().positive() }).safeParse(raw);
    if (!meta.success) throw new UserError('This form does not belong to an incident any more.', 'not_found');
    await ack();
    const incident = await getIncident(deps.store, meta.data.incidentId);
    if (!incident) throw new UserError('This incident no longer exists.', 'not_found');
    scope.auditParams.incident = incident.id;
    await run(incident, text.data, view, body.user.id);
  };
}

/** The reminder's update form. */
export const onUpdateSubmission = (deps: IncidentDeps) =>
  onIncidentForm(deps, updateTextSchema, (incident, text, _view, userId) => deps.incidents.postUpdate(incident, text, userId));

/** The resolution message's follow-up form, with an optional owner. */
export const onFollowUpSubmission = (deps: IncidentDeps) =>
  onIncidentForm(deps, followUpTextSchema, (incident, text, view, userId) =>
    deps.incidents.followUps.add(incident, { text, owner: view.state.values.owner?.value?.selected_user ?? null }, userId),
  );

/** A follow-up's Done button (in the channel or in `/incident followups`). */
export function onFollowUpDone(deps: IncidentDeps) {
  return async ({ action, body, respond, context }: ButtonArgs): Promise<void> => {
    await scopeOf(context).ack();
    const id = z.coerce.number().int().positive().safeParse(action.value);
    if (!id.success) throw new UserError('This button does not name a follow-up.', 'not_found');
    const done = await deps.incidents.followUps.markDone(id.data, body.user.id);
    await respond({ response_type: 'ephemeral', replace_original: false, text: `Follow-up #${done.id} is marked done.` });
  };
}
