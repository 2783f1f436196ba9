// The unhealthy objects of a check as a `kubectl get`-style table, for a terminal and for Slack's code blocks (which escape it).
import type { ObjectFinding } from './check.ts';
import { age } from './kubernetes/finding.ts';

const HEADER = ['STATUS', 'OBJECT', 'REASON', 'COUNT', 'LAST SEEN', 'MESSAGE'] as const;

export interface TableOptions {
  /** Messages longer than this are cut with "…" (Slack's sections are short); default no limit. */
  maxMessage?: number;
}

/** One header and one row per object, columns padded as kubectl pads them; raw text (the caller escapes for Slack). */
export function objectTable(objects: readonly ObjectFinding[], now: Date, options: TableOptions = {}): string[] {
  const rows = objects.map((object) => {
    const message = (object.message ?? '').replace(/\s+/g, ' ').trim();
    const max = options.maxMessage;
    return [
      object.status,
      `${object.kind.toLowerCase()}/${object.name}`,
      object.reason,
      object.count !== undefined ? String(object.count) : '',
      object.at ? age(now.getTime() - object.at.getTime()) : '',
      max !== undefined && message.length > max ? `${message.slice(0, max - 1)}…` : message,
    ];
  });
  const widths = HEADER.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('   ')
      .trimEnd();
  return [line(HEADER), ...rows.map(line)];
}
