// The post-incident report as a document: Markdown for the channel's canvas, the file posted when canvases are not
// allowed, and the CLI (`runbook-bot incident report <channel|id> --markdown`). Published once, after the resolve.
import { formatDuration } from '../config/duration.ts';
import { formatWhen } from '../slack/incident-blocks.ts';
import type { Queryable } from '../store/db.ts';
import { listFollowUps, type FollowUp } from '../store/follow-ups.ts';
import {
  addEvent,
  getIncident,
  listEvents,
  listSteps,
  type EscalationStep,
  type Incident,
  type IncidentEvent,
} from '../store/incidents.ts';
import type { Lease } from '../work/due-work-poller.ts';
import type { IncidentModuleDeps } from './lifecycle.ts';
import { incidentDurations } from './report.ts';
import { incidentIdOfKey } from './timers.ts';

export interface IncidentReportData {
  incident: Incident;
  events: IncidentEvent[];
  steps: EscalationStep[];
  followUps: FollowUp[];
}

export async function loadReportData(db: Queryable, incident: Incident): Promise<IncidentReportData> {
  const [events, steps, followUps] = await Promise.all([
    listEvents(db, incident.id),
    listSteps(db, incident.id),
    listFollowUps(db, incident.id),
  ]);
  return { incident, events, steps, followUps };
}

/** How a person is named: a canvas mention (`![](@U1)`) in Slack, `@U1` in a file or terminal. */
export type PersonStyle = 'canvas' | 'plain';

/** Markdown text of the report; user text goes in as written, with Markdown's own control characters kept inert. */
export function incidentReportMarkdown(data: IncidentReportData, timezone: string, style: PersonStyle): string {
  const { incident, events, steps, followUps } = data;
  const person = (id: string | null) =>
    !id ? 'the bot' : /^[UW][A-Z0-9]+$/.test(id) ? (style === 'canvas' ? `![](@${id})` : `@${id}`) : inert(id);
  const when = (at: Date) => formatWhen(at, timezone);
  const durations = incidentDurations(incident, steps);
  const end = incident.resolved_at ?? incident.declared_at;
  const tasks = events.filter((event) => event.kind === 'task_run');
  return [
    `# Incident #${incident.id}: ${inert(incident.title)}`,
    '',
    '## Summary',
    `- Severity: ${incident.severity}`,
    `- Service: ${incident.service ? inert(incident.service) : 'not set'}`,
    `- Status: ${incident.status}`,
    `- Declared: ${when(incident.declared_at)} by ${person(incident.source === 'slack' ? incident.declared_by : incident.source)}`,
    `- Commander: ${incident.commander ? person(incident.commander) : 'none'}`,
    `- Resolved: ${incident.resolved_at ? `${when(incident.resolved_at)} by ${person(incident.resolved_by)}` : 'not yet'}`,
    `- Resolution: ${incident.resolution ? inert(incident.resolution) : '(how it was resolved)'}`,
    '',
    '## Impact',
    incident.summary ? inert(incident.summary) : '(who and what was affected, for how long)',
    '',
    '## Durations',
    `- Time to acknowledge: ${durations.timeToAcknowledgeMs === undefined ? 'never acknowledged' : formatDuration(durations.timeToAcknowledgeMs)}`,
    `- Time to resolve: ${durations.timeToResolveMs === undefined ? 'not resolved' : formatDuration(durations.timeToResolveMs)}`,
    `- Open for: ${formatDuration(end.getTime() - incident.declared_at.getTime())}`,
    '',
    '## Escalations reached',
    ...(durations.levelsReached.length > 0
      ? durations.levelsReached.map((level) => `- ${inert(level)}`)
      : ['- none (on-call only)']),
    '',
    '## Tasks run',
    ...(tasks.length > 0 ? tasks.map((task) => `- ${when(task.at)}: ${inert(task.text)} (${person(task.actor)})`) : ['- none']),
    '',
    '## Timeline',
    ...events.map((event) => `- ${when(event.at)}: ${inert(event.text)} (${person(event.actor)})`),
    '',
    '## Follow-ups',
    ...(followUps.length > 0
      ? followUps.map(
          (f) =>
            `- [${f.done_at ? 'x' : ' '}] #${f.id} ${inert(f.text)} (${f.owner ? `owner ${person(f.owner)}` : 'no owner'}, due ${when(f.due_at)})`,
        )
      : ['- none yet']),
    '',
  ].join('\n');
}

/** Text a person typed, on one line, with Slack's and Markdown's control sequences shown as text. */
function inert(text: string): string {
  return text
    .replace(/\s*\n\s*/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_[\]])/g, '\\$1');
}

/** Publishes the report of a resolved incident: the channel's canvas when the workspace allows one, else a file. */
export class IncidentReportPublisher {
  readonly #o: IncidentModuleDeps;

  constructor(options: IncidentModuleDeps) {
    this.#o = options;
  }

  /** The work handler for `incident_report:<incident>` rows. */
  async publish(lease: Lease): Promise<Record<string, unknown> | void> {
    const { store, slack, config, clock, logger } = this.#o;
    const incident = await getIncident(store, incidentIdOfKey(lease.claim.key));
    if (!incident?.channel_id) return;
    const channel = incident.channel_id;
    const data = await loadReportData(store, incident);
    await lease.hold();
    const canvas = await slack.at('update', () =>
      slack.createChannelCanvas(channel, incidentReportMarkdown(data, config.timezone, 'canvas')),
    );
    // An earlier attempt whose answer was lost may have made it: the channel's canvas is then ours.
    const ours =
      !canvas.ok && canvas.error === 'channel_canvas_already_exists' && (lease.claim.uncertain || lease.claim.attempts > 1);
    let result: Record<string, unknown>;
    if (canvas.ok || ours) {
      result = { canvas: canvas.ok ? canvas.id : 'existing' };
      await addEvent(
        store,
        incident.id,
        clock.now(),
        'report_published',
        null,
        'Post-incident report created as the channel canvas',
      );
    } else {
      logger.info({ event: 'incident.report_canvas_refused', incidentId: incident.id, code: canvas.error });
      await lease.hold();
      await slack.at('update', () =>
        slack.uploadTextFile(channel, {
          filename: `incident-${incident.id}-report.md`,
          title: `Incident #${incident.id} post-incident report`,
          content: incidentReportMarkdown(data, config.timezone, 'plain'),
          comment: `:page_facing_up: The post-incident report of incident #${incident.id} (this workspace does not allow the bot a canvas here: ${canvas.error}).`,
        }),
      );
      result = { file: `incident-${incident.id}-report.md`, canvasRefused: canvas.error };
      await addEvent(store, incident.id, clock.now(), 'report_published', null, 'Post-incident report posted as a Markdown file');
    }
    return result;
  }
}
