// Warning events of the last `eventsWithin`, per object and reason, as `kubectl get events` lists them: "Pod api-0: FailedMount ×3, last 10m ago".
import type { Finding } from '../check.ts';
import { ago, objectFinding, span } from './finding.ts';
import type { WarningEvent } from './reads.ts';
import type { Scope } from './scope.ts';

export function eventFindings(events: WarningEvent[] | undefined, scope: Scope, withinMs: number, now: Date): Finding[] {
  if (!events) return [];
  const about = events.filter((event) => scope.event(event.kind, event.name));
  if (about.length === 0) return [{ status: 'ok', text: `no Warning events in the last ${span(withinMs)}` }];
  // Newest first, as `kubectl get events --sort-by=.lastTimestamp` read from the bottom.
  return about
    .sort((a, b) => b.last.getTime() - a.last.getTime())
    .map((event) =>
      objectFinding({
        status: 'warn',
        kind: event.kind,
        name: event.name,
        reason: event.reason,
        count: event.count,
        at: event.last,
        message: event.message,
        phrase: `${event.reason}${event.count > 1 ? ` ×${event.count}` : ''}, last ${ago(now, event.last)}`,
      }),
    );
}
