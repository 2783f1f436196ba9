// `runbook-bot incident report <channel|id> --markdown`: the post-incident report document, printed for a terminal.
import { z } from 'zod';
import type { CliCommand } from './command.ts';
import { UserError } from '../errors.ts';
import { incidentReportMarkdown, loadReportData } from '../incidents/report-document.ts';
import { getIncident, getIncidentByChannel, getIncidentByChannelName, type Incident } from '../store/incidents.ts';
import type { Queryable } from '../store/db.ts';
import { openMigratedStore, storeOptions } from '../store/open.ts';

const REPORT_USAGE = 'runbook-bot incident report <channel|id> [--markdown]';

const argsSchema = z
  .array(z.string())
  .refine((args) => args.filter((arg) => !arg.startsWith('--')).length === 1, {
    message: `Name one incident: its number, its channel id or #name.\nUsage: ${REPORT_USAGE}`,
  })
  .refine((args) => args.filter((arg) => arg.startsWith('--')).every((flag) => flag === '--markdown'), {
    message: `The only option is --markdown.\nUsage: ${REPORT_USAGE}`,
  });

/** 42, #42, C0123ABC or #incident-2026-11-22-1534 → the incident. */
async function findIncident(db: Queryable, ref: string): Promise<Incident | undefined> {
  const number = /^#?(\d+)$/.exec(ref);
  if (number) return getIncident(db, Number(number[1]));
  if (/^[CG][A-Z0-9]+$/.test(ref)) return getIncidentByChannel(db, ref);
  return getIncidentByChannelName(db, ref.replace(/^#/, ''));
}

export const incidentCommands: Record<string, CliCommand> = {
  'incident report': {
    usage: REPORT_USAGE,
    summary: 'print the post-incident report (summary, impact, timeline, durations, escalations, tasks, follow-ups) as Markdown',
    async run(args, config, io) {
      const parsed = argsSchema.safeParse(args);
      if (!parsed.success) throw new UserError(parsed.error.issues[0]!.message, 'usage');
      const ref = parsed.data.find((arg) => !arg.startsWith('--'))!;
      const { store } = await openMigratedStore(storeOptions(config));
      try {
        const incident = await findIncident(store, ref);
        if (!incident) throw new UserError(`No incident is known as \`${ref}\`.`, 'not_found');
        io.out(incidentReportMarkdown(await loadReportData(store, incident), config.timezone, 'plain'));
        return 0;
      } finally {
        await store.close();
      }
    },
  },
};
