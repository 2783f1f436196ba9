// How the Kubernetes check words a finding about an object: "Pod api-0: FailedMount ×3, last 10m ago", like `kubectl get events`.
import { formatDuration } from '../../../config/duration.ts';
import type { Finding, HealthStatus, ObjectFinding } from '../check.ts';

/** kubectl's AGE and LAST SEEN columns: "45s", "4m10s", "3h12m", "40d" (apimachinery's duration.HumanDuration). */
export function age(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

/** A configured duration as the config file writes it: "1h", "30d", "5m". */
export function span(ms: number): string {
  return formatDuration(ms).replace(' ', '');
}

export function ago(now: Date, at: Date | undefined): string | undefined {
  return at ? `${age(now.getTime() - at.getTime())} ago` : undefined;
}

export interface ObjectFindingInput extends ObjectFinding {
  /** What follows "<Kind> <name>: " in the one-line text; default the reason. The table has its own columns. */
  phrase?: string;
}

/** "<Kind> <name>: <phrase>" for the one-line reason, and the object itself for the details table. */
export function objectFinding(input: ObjectFindingInput): Finding {
  const { phrase, ...object } = input;
  return { status: object.status, text: `${object.kind} ${object.name}: ${phrase ?? object.reason}`, object };
}

export function okFinding(text: string): Finding {
  return { status: 'ok', text };
}

export function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : nouns}`;
}

export function statusOf(critical: boolean): HealthStatus {
  return critical ? 'critical' : 'warn';
}
