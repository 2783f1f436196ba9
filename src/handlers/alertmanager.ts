// POST /webhooks/alertmanager: bearer token in constant time, body validated, stored before the 200, processed after.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readRawBody, sendJson, type Route } from '../http-server.ts';
import type { InFlight } from '../inflight.ts';
import { alertmanagerPayloadSchema, type AlertIntake } from '../incidents/alerts.ts';
import type { Logger } from '../log.ts';

const MAX_BODY_BYTES = 1024 * 1024;

export interface AlertmanagerRouteDeps {
  token: string | undefined;
  intake: AlertIntake;
  inflight: InFlight;
  logger: Logger;
}

export function alertmanagerRoute(deps: AlertmanagerRouteDeps): Route {
  return {
    method: 'POST',
    path: '/webhooks/alertmanager',
    async handle(req, res) {
      if (!deps.token || !bearerMatches(req.headers.authorization, deps.token)) {
        deps.logger.warn({ event: 'alertmanager.unauthorized', configured: Boolean(deps.token) });
        res.setHeader('WWW-Authenticate', 'Bearer');
        return sendJson(res, 401, { error: deps.token ? 'unauthorized' : 'the webhook is disabled: set ALERTMANAGER_TOKEN' });
      }
      const raw = await readRawBody(req, MAX_BODY_BYTES);
      if (raw === undefined) return sendJson(res, 413, { error: `body larger than ${MAX_BODY_BYTES} bytes` });
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        return sendJson(res, 400, { error: 'the body is not JSON' });
      }
      const parsed = alertmanagerPayloadSchema.safeParse(json);
      if (!parsed.success) {
        const reasons = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`);
        return sendJson(res, 400, { error: 'not an Alertmanager webhook payload (version 4)', reasons });
      }
      // Stored first: a crash after the 200 leaves the delivery for another replica to process.
      const id = await deps.intake.receive(parsed.data);
      sendJson(res, 200, { status: 'accepted', id });
      if (!deps.inflight.closed) deps.inflight.run(() => deps.intake.processNow(id));
    },
  };
}

/** Constant-time comparison of `Bearer <token>` (hashing first makes the lengths equal). */
function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1]?.trim() ?? '';
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b) && given.length > 0;
}
