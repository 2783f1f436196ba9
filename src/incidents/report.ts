// What resolving posts: the durations, and a post-incident report pre-filled from the timeline.
import type { KnownBlock } from '@slack/types';
import { formatDuration } from '../config/duration.ts';
import { escapeText } from '../slack/escape.ts';
import { actorText, formatWhen, INCIDENT_ACTIONS, mention } from '../slack/incident-blocks.ts';
import type { FollowUp } from '../store/follow-ups.ts';
import type { EscalationStep, Incident, IncidentEvent } from '../store/incidents.ts';

export interface IncidentDurations {
  timeToAcknowledgeMs: number | undefined;
  timeToResolveMs: number | undefined;
  levelsReached: string[];
}

export function incidentDurations(incident: Incident, steps: EscalationStep[]): IncidentDurations {
  const from = incident.declared_at.getTime();
  return {
    timeToAcknowledgeMs: incident.acknowledged_at ? incident.acknowledged_at.getTime() - from : undefined,
    timeToResolveMs: incident.resolved_at ? incident.resolved_at.getTime() - from : undefined,
    levelsReached: steps
      .filter((step) => step.state === 'posted')
      .map((step) => `${step.level}. ${escapeText(step.label)}${step.late ? ' (late)' : ''}`),
  };
}

/** The post-incident report as Markdown, with the sections of the runbooks' template. */
export function postIncidentReport(
  incident: Incident,
  events: IncidentEvent[],
  steps: EscalationStep[],
  timezone: string,
  followUps: FollowUp[] = [],
): string {
  const durations = incidentDurations(incident, steps);
  const end = incident.resolved_at ?? incident.declared_at;
  return [
    `# Incident report: ${escapeText(incident.title)}`,
    '',
    '## Summary',
    `- Date: ${formatWhen(incident.declared_at, timezone)}`,
    `- Duration: ${formatWhen(incident.declared_at, timezone)} to ${formatWhen(end, timezone)} (${formatDuration(end.getTime() - incident.declared_at.getTime())})`,
    `- Severity: ${incident.severity}`,
    `- Service: ${incident.service ? escapeText(incident.service) : 'not set'}`,
    `- Commander: ${incident.commander ? mention(incident.commander) : 'none'}`,
    `- Time to acknowledge: ${durations.timeToAcknowledgeMs === undefined ? 'never acknowledged' : formatDuration(durations.timeToAcknowledgeMs)}`,
    `- Escalation levels reached: ${durations.levelsReached.length > 0 ? durations.levelsReached.join(', ') : 'none (on-call only)'}`,
    `- Impact: ${incident.summary ? escapeText(incident.summary) : '(describe who and what was affected)'}`,
    '',
    '## Timeline',
    ...events.map((event) => `- ${formatWhen(event.at, timezone)}: ${timelineText(event)} (${actorText(event.actor)})`),
    '',
    '## Root cause',
    '(What caused the incident, and the contributing factors. Was it detected by monitoring, and early enough?)',
    '',
    '## Resolution',
    incident.resolution ? escapeText(incident.resolution) : '(How the incident was resolved.)',
    '',
    '## Lessons learned',
    '- What went well:',
    '- What could be improved:',
    '',
    '## Action items',
    ...(followUps.length > 0
      ? followUps.map(
          (f) =>
            `- [${f.done_at ? 'x' : ' '}] #${f.id} ${escapeText(f.text)} (${f.owner ? `owner ${mention(f.owner)}` : 'no owner'}, due ${formatWhen(f.due_at, timezone)})`,
        )
      : [
          '- [ ] Preventive measure: owner, due date',
          '- [ ] Monitoring or alerting change: owner, due date',
          '- [ ] Runbook or documentation update: owner, due date',
        ]),
    '',
    '## Communication and compliance',
    '- [ ] Stakeholders updated',
    '- [ ] Compliance status updated; auditors notified if required',
  ].join('\n');
}

/** A timeline entry for Slack: its text escaped; the entries that name people by id (role changes) say it with mentions. */
export function timelineText(event: IncidentEvent): string {
  const { user, previous, commander } = event.data;
  const holder = typeof user === 'string' ? user : typeof commander === 'string' ? commander : undefined;
  if ((event.kind === 'commander_changed' || event.kind === 'role_changed') && holder) {
    const label = event.kind === 'commander_changed' ? 'Commander' : escapeText(event.text.split(':')[0] ?? 'Role');
    return `${label}: ${mention(holder)}${typeof previous === 'string' ? ` (was ${mention(previous)})` : ''}`;
  }
  if (event.kind === 'followup_added' && typeof event.data.text === 'string') {
    const owner = typeof event.data.owner === 'string' ? ` (owner ${mention(event.data.owner)})` : '';
    return `Follow-up #${String(event.data.followUp)}: ${escapeText(event.data.text)}${owner}`;
  }
  return escapeText(event.text);
}

export function resolutionMessage(
  incident: Incident,
  events: IncidentEvent[],
  steps: EscalationStep[],
  timezone: string,
  followUps: FollowUp[] = [],
): { text: string; blocks: KnownBlock[] } {
  const durations = incidentDurations(incident, steps);
  const lines = [
    `:white_check_mark: *Incident #${incident.id} resolved* by ${actorText(incident.resolved_by)}${incident.resolution ? `: ${escapeText(incident.resolution)}` : ''}`,
    `• Time to acknowledge: *${durations.timeToAcknowledgeMs === undefined ? 'never acknowledged' : formatDuration(durations.timeToAcknowledgeMs)}*`,
    `• Time to resolve: *${formatDuration(durations.timeToResolveMs ?? 0)}*`,
    `• Escalation levels reached: *${durations.levelsReached.length > 0 ? durations.levelsReached.join(', ') : 'none (on-call only)'}*`,
  ];
  const report = postIncidentReport(incident, events, steps, timezone, followUps);
  const blocks: KnownBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } }, { type: 'divider' }];
  // Section text is capped at 3000 characters: the report goes in as several preformatted chunks.
  for (const chunk of chunkLines(report, 2_900))
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `\`\`\`${chunk}\`\`\`` } });
  blocks.splice(49);
  blocks.push({
    type: 'actions',
    block_id: `resolution:${incident.id}`,
    elements: [
      {
        type: 'button',
        action_id: INCIDENT_ACTIONS.addFollowUp,
        text: { type: 'plain_text', text: 'Add follow-up' },
        value: String(incident.id),
      },
    ],
  });
  return {
    text: `Incident #${incident.id} resolved: time to resolve ${formatDuration(durations.timeToResolveMs ?? 0)}`,
    blocks,
  };
}

function chunkLines(text: string, size: number): string[] {
  const chunks: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    const clipped = line.slice(0, size);
    if (current.length + clipped.length + 1 > size) {
      chunks.push(current);
      current = '';
    }
    current += `${clipped}\n`;
  }
  if (current) chunks.push(current);
  return chunks;
}
