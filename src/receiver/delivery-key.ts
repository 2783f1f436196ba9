// What identifies one delivery from Slack, so the same user action or event is recognised when it comes again.
import { createHash } from 'node:crypto';

/**
 * The key under which a delivery is claimed, or undefined when acting twice is harmless (option lists for a select
 * menu are read-only and must be answered every time).
 *
 * Events carry an event_id that every retry (X-Slack-Retry-Num, Socket Mode retry_attempt) repeats; commands and
 * interactions carry a trigger_id, unique per user action. Without either, a Socket Mode re-delivery repeats its
 * envelope_id, and an HTTP retry repeats its body byte for byte.
 */
export function deliveryKey(body: Record<string, unknown>, envelopeId?: string): string | undefined {
  if (body.type === 'block_suggestion') return undefined;
  if (body.type === 'event_callback' && typeof body.event_id === 'string') return `event:${body.event_id}`;
  if (typeof body.trigger_id === 'string' && body.trigger_id !== '') return `trigger:${body.trigger_id}`;
  if (envelopeId) return `envelope:${envelopeId}`;
  return `body:${createHash('sha256').update(JSON.stringify(body)).digest('base64url')}`;
}
