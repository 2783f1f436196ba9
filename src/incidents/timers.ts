// The incident's durable timers as work rows: which exist, when they fall due, and the escalation's ordering rule.
//
// The order of levels is kept by construction: only the lowest level not yet posted has a row; posting it adds the
// next one (due at its own time, so a level that fell due meanwhile runs at once, marked late). Resolving cancels
// every timer; a new severity replaces the rows of the levels not yet posted.
import type { Queryable } from '../store/db.ts';
import { nextPendingStep, type Incident } from '../store/incidents.ts';
import { cancelIncidentWork, enqueueWork, rescheduleWork, scheduleWork, upsertWork, type NewWork } from '../store/work.ts';

export const INCIDENT_WORK = {
  setup: 'setup',
  escalation: 'escalation',
  ackAlarm: 'ack_alarm',
  card: 'incident_card',
  topic: 'incident_topic',
  updateReminder: 'update_reminder',
  report: 'incident_report',
  archiveNotice: 'archive_notice',
  archive: 'incident_archive',
  pageInvite: 'page_invite',
} as const;

/** Priorities of the work rows (lower first), in step with the Slack budget's: pages, setup, updates. */
const PRIORITY = { page: 0, setup: 1, update: 2 } as const;

export const workKey = {
  setup: (incidentId: number) => `setup:${incidentId}`,
  escalation: (incidentId: number, level: number) => `escalation:${incidentId}:${level}`,
  /** The invite of a level's people that followed its page (Slack's invite budget had no room at the time). */
  pageInvite: (incidentId: number, level: number) => `page_invite:${incidentId}:${level}`,
  ackAlarm: (incidentId: number) => `ack_alarm:${incidentId}`,
  card: (incidentId: number) => `card:${incidentId}`,
  topic: (incidentId: number) => `topic:${incidentId}`,
  report: (incidentId: number) => `incident_report:${incidentId}`,
  archiveNotice: (incidentId: number, archiveAt: Date) => `archive_notice:${incidentId}:${archiveAt.getTime()}`,
  archive: (incidentId: number, archiveAt: Date) => `archive:${incidentId}:${archiveAt.getTime()}`,
  /** One row per reminder, named by its due time: a sent reminder is done, the next one is a new row. */
  updateReminder: (incidentId: number, dueAt: Date) => `update_reminder:${incidentId}:${dueAt.getTime()}`,
};

/** "update_reminder:42:1764000000000" → 42 and its due time. */
export function parseUpdateReminderKey(key: string): { incidentId: number; dueAt: Date } {
  const [, incident, due] = key.split(':');
  return { incidentId: Number(incident), dueAt: new Date(Number(due)) };
}

/** The key of a page's copy in the incident channel, when it was first paged in the announcement channel. */
export const pageCopyKey = (incidentId: number, level: number) => `escalation-copy:${incidentId}:${level}`;

/** "escalation:42:2", "page_invite:42:2" → 42, 2. */
export function parseEscalationKey(key: string): { incidentId: number; level: number } {
  const [, incident, level] = key.split(':');
  return { incidentId: Number(incident), level: Number(level) };
}

/** "setup:42", "ack_alarm:42", "card:42" → 42. */
export function incidentIdOfKey(key: string): number {
  return Number(key.split(':')[1]);
}

function escalationWork(incidentId: number, level: number, dueAt: Date): NewWork {
  return {
    kind: INCIDENT_WORK.escalation,
    key: workKey.escalation(incidentId, level),
    incidentId,
    priority: PRIORITY.page,
    runAt: dueAt,
  };
}

/** The timers of a newly recorded incident: its setup (now), its first escalation level, its acknowledgement alarm. */
export async function startIncidentTimers(tx: Queryable, incident: Incident, now: Date): Promise<void> {
  await enqueueWork(
    tx,
    { kind: INCIDENT_WORK.setup, key: workKey.setup(incident.id), incidentId: incident.id, priority: PRIORITY.setup, runAt: now },
    now,
  );
  await scheduleNextLevel(tx, incident.id, now);
  if (incident.ack_due_at)
    await enqueueWork(
      tx,
      {
        kind: INCIDENT_WORK.ackAlarm,
        key: workKey.ackAlarm(incident.id),
        incidentId: incident.id,
        priority: PRIORITY.page,
        runAt: incident.ack_due_at,
      },
      now,
    );
}

/** Arms the lowest level not yet posted (after one was posted, or the levels changed); false when none is left. */
export async function scheduleNextLevel(tx: Queryable, incidentId: number, now: Date): Promise<boolean> {
  const next = await nextPendingStep(tx, incidentId);
  if (!next) return false;
  await scheduleWork(tx, escalationWork(incidentId, next.level, next.due_at), now);
  return true;
}

/** A new severity: the rows of levels not yet posted are replaced, and the acknowledgement alarm follows its target. */
export async function rescheduleAfterSeverityChange(tx: Queryable, incident: Incident, now: Date): Promise<void> {
  await cancelIncidentWork(tx, incident.id, [INCIDENT_WORK.escalation]);
  await scheduleNextLevel(tx, incident.id, now);
  if (incident.ack_due_at && incident.status === 'open' && !incident.ack_alarm_sent_at)
    await scheduleWork(
      tx,
      {
        kind: INCIDENT_WORK.ackAlarm,
        key: workKey.ackAlarm(incident.id),
        incidentId: incident.id,
        priority: PRIORITY.page,
        runAt: incident.ack_due_at,
      },
      now,
    );
}

/** "Escalate now": the pending level's row falls due now. */
export async function escalateLevelNow(tx: Queryable, incidentId: number, level: number, now: Date): Promise<void> {
  if (!(await rescheduleWork(tx, workKey.escalation(incidentId, level), now)))
    await scheduleWork(tx, escalationWork(incidentId, level, now), now);
}

/** Acknowledged: the acknowledgement alarm is no longer needed. */
export async function stopAckAlarm(tx: Queryable, incidentId: number): Promise<void> {
  await cancelIncidentWork(tx, incidentId, [INCIDENT_WORK.ackAlarm]);
}

/** Resolved: every timer stops (a setup still running finishes, so the channel is complete). */
export async function stopIncidentTimers(tx: Queryable, incidentId: number): Promise<void> {
  await cancelIncidentWork(tx, incidentId, [INCIDENT_WORK.escalation, INCIDENT_WORK.ackAlarm, INCIDENT_WORK.updateReminder]);
}

/** A level was paged before its people could be invited: they are, as an update, when Slack's invite budget allows. */
export async function inviteAfterPage(tx: Queryable, incidentId: number, level: number, now: Date): Promise<void> {
  await enqueueWork(
    tx,
    {
      kind: INCIDENT_WORK.pageInvite,
      key: workKey.pageInvite(incidentId, level),
      incidentId,
      priority: PRIORITY.update,
      runAt: now,
    },
    now,
  );
}

/** Resolved: the post-incident report is published (once) when Slack's budget allows. */
export async function schedulePostIncidentReport(tx: Queryable, incidentId: number, now: Date): Promise<void> {
  await enqueueWork(
    tx,
    { kind: INCIDENT_WORK.report, key: workKey.report(incidentId), incidentId, priority: PRIORITY.update, runAt: now },
    now,
  );
}

/** A day ahead of the archive, the channel is told (at once when the archive is less than a day away). */
export const ARCHIVE_NOTICE_MS = 86_400_000;

/** The channel of a resolved incident is archived at `archiveAt`, announced a day before; replaces a waiting archive. */
export async function scheduleChannelArchive(tx: Queryable, incidentId: number, archiveAt: Date, now: Date): Promise<void> {
  await stopChannelArchive(tx, incidentId);
  await enqueueWork(
    tx,
    {
      kind: INCIDENT_WORK.archiveNotice,
      key: workKey.archiveNotice(incidentId, archiveAt),
      incidentId,
      priority: PRIORITY.update,
      runAt: new Date(Math.max(now.getTime(), archiveAt.getTime() - ARCHIVE_NOTICE_MS)),
      payload: { archiveAt: archiveAt.getTime() },
    },
    now,
  );
}

/** The announced archive: due at `archiveAt`, it checks for posts after the notice (`noticeTs`) before it archives. */
export async function scheduleArchiveAfterNotice(
  tx: Queryable,
  incidentId: number,
  archiveAt: Date,
  noticeTs: string,
  now: Date,
): Promise<void> {
  await enqueueWork(
    tx,
    {
      kind: INCIDENT_WORK.archive,
      key: workKey.archive(incidentId, archiveAt),
      incidentId,
      priority: PRIORITY.update,
      runAt: archiveAt,
      payload: { noticeTs },
    },
    now,
  );
}

/** Reopened: no archive. */
export async function stopChannelArchive(tx: Queryable, incidentId: number): Promise<void> {
  await cancelIncidentWork(tx, incidentId, [INCIDENT_WORK.archiveNotice, INCIDENT_WORK.archive]);
}

/**
 * The next reminder to post a stakeholder update replaces any waiting one (an update was posted, a snooze, a new
 * severity's cadence); null arms none. Call it after completing a running reminder, which this would cancel.
 */
export async function armUpdateReminder(tx: Queryable, incidentId: number, dueAt: Date | null, now: Date): Promise<void> {
  await cancelIncidentWork(tx, incidentId, [INCIDENT_WORK.updateReminder]);
  if (!dueAt) return;
  await scheduleWork(
    tx,
    {
      kind: INCIDENT_WORK.updateReminder,
      key: workKey.updateReminder(incidentId, dueAt),
      incidentId,
      priority: PRIORITY.setup,
      runAt: dueAt,
    },
    now,
  );
}

/** The pinned card (and the topic) are re-rendered from the stored state when Slack's budget allows; repeats collapse. */
export async function refreshIncidentViews(db: Queryable, incidentId: number, now: Date, topic: boolean): Promise<void> {
  await upsertWork(
    db,
    { kind: INCIDENT_WORK.card, key: workKey.card(incidentId), incidentId, priority: PRIORITY.update, runAt: now },
    now,
  );
  if (topic)
    await upsertWork(
      db,
      { kind: INCIDENT_WORK.topic, key: workKey.topic(incidentId), incidentId, priority: PRIORITY.update, runAt: now },
      now,
    );
}
