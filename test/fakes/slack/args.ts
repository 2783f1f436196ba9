// Reading a Web API method's arguments as Slack does: loose form values, booleans as strings, cursor pagination.
import { SlackApiError, type Args } from './types.ts';

export function str(args: Args, key: string): string {
  const value = args[key];
  return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}

export function bool(value: unknown): boolean {
  return value === true || value === 'true' || value === '1' || value === 1;
}

export function isRecord(value: unknown): value is Args {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asArray(value: unknown): unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

/** Cursor pagination as Slack does it: an opaque next_cursor, '' on the last page; limit 0 means all. */
export function page<T>(items: T[], args: Args, defaultLimit: number): { items: T[]; nextCursor: string } {
  const cursor = str(args, 'cursor');
  let offset = 0;
  if (cursor) {
    const match = /^offset:(\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
    if (!match) throw new SlackApiError('invalid_cursor');
    offset = Number(match[1]);
  }
  const limit = Math.min(Number(str(args, 'limit')) || defaultLimit || items.length, 1000) || items.length;
  const slice = items.slice(offset, offset + limit);
  const next = offset + limit < items.length ? Buffer.from(`offset:${offset + limit}`).toString('base64') : '';
  return { items: slice, nextCursor: next };
}
