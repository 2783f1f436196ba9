// The pino root logger: JSON in production, pretty in development, secrets redacted by key and by shape.
import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

export type { Logger };

const SECRET_KEYS = [
  'token',
  'password',
  'secret',
  'authorization',
  'signingSecret',
  'SLACK_BOT_TOKEN',
  'SLACK_APP_TOKEN',
  'SLACK_SIGNING_SECRET',
  'ALERTMANAGER_TOKEN',
  'DATABASE_URL',
  'REDIS_URL',
  'connectionString',
  'privateKey',
  'x-slack-signature',
];
const SECRET_KEY_PATTERN = new RegExp(`^(${SECRET_KEYS.join('|')})$|token$|password$|secret$|_url$|databaseurl$`, 'i');

// Values that are secrets whatever key they sit under.
const SECRET_VALUE_PATTERNS: Array<[RegExp, string]> = [
  [/xox[abposre]-[A-Za-z0-9-]+/g, 'xox?-[REDACTED]'],
  [/xapp-[A-Za-z0-9-]+/g, 'xapp-[REDACTED]'],
  [/\b([a-z][a-z0-9+.-]*:\/\/)([^:/?#@\s]*):([^@/?#\s]*)@/gi, '$1$2:[REDACTED]@'],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, '$1 [REDACTED]'],
];

// What each pattern above needs (a Slack token's prefix, a URL's scheme, a bearer or basic credential), found in one
// pass: most strings have none and are returned as they are, without the four replacements.
const MAY_BE_SECRET = /xox[abposre]-|xapp-|Bearer|Basic|:\/\//;

/** Replaces secret-shaped substrings (tokens, passwords in URLs, bearer credentials) in a string. */
export function redactString(text: string): string {
  if (!MAY_BE_SECRET.test(text)) return text;
  let out = text;
  for (const [pattern, replacement] of SECRET_VALUE_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** A deep copy with secret keys replaced and secret-shaped strings scrubbed. */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (value instanceof Error) {
    return {
      type: value.name,
      message: redactString(value.message),
      stack: value.stack && redactString(value.stack),
      code: (value as { code?: unknown }).code,
    };
  }
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] =
      SECRET_KEY_PATTERN.test(key) && item !== undefined && item !== null && item !== ''
        ? '[REDACTED]'
        : redactValue(item, depth + 1);
  }
  return out;
}

export interface CreateLoggerOptions {
  level?: string;
  pretty?: boolean;
  destination?: DestinationStream;
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const pinoOptions: LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: 'runbook-bot' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => redactValue(object) as Record<string, unknown>,
    },
    // redactValue (above) has made each error a plain object already: pino's own err serializer, run after it, would
    // name every error's type "Object".
    serializers: { err: (value: unknown) => value },
    hooks: {
      logMethod(args, method) {
        // Scrub the message string as well as the object.
        const scrubbed = args.map((arg) => (typeof arg === 'string' ? redactString(arg) : arg));
        method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
  };
  if (options.destination) return pino(pinoOptions, options.destination);
  if (options.pretty) {
    return pino({
      ...pinoOptions,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss' } },
    });
  }
  // Written off the main thread: a synchronous write per line would hold the event loop (and the next ack) for each
  // log line. Lines written while a write is in flight go in the next one; pino flushes what is left when the process
  // exits, so only a hard kill (SIGKILL, the OOM killer) can lose the last few milliseconds of lines.
  return pino(pinoOptions, pino.destination({ dest: 1, sync: false }));
}

export interface SlackLoggerOptions {
  /**
   * Lines the caller logs better itself (with the method and what happens next), by their first part: written at
   * debug. The Web API client's "http request failed" says neither which call failed nor whether it is sent again.
   */
  loggedByCaller?: (message: string) => boolean;
}

/** Adapts pino to the logger interface Bolt and the Slack SDKs expect: every line is a `slack.sdk_log` event. */
export function slackLogger(logger: Logger, options: SlackLoggerOptions = {}) {
  let level = 'info';
  const format = (parts: unknown[]) =>
    parts.map((part) => (typeof part === 'string' ? part : JSON.stringify(redactValue(part)))).join(' ');
  // Bolt logs a few debug lines for every request: formatting (and scrubbing) them only to drop them costs each ack.
  const at =
    (method: 'debug' | 'info' | 'warn' | 'error') =>
    (...parts: unknown[]) => {
      const to = typeof parts[0] === 'string' && options.loggedByCaller?.(parts[0]) ? 'debug' : method;
      if (logger.isLevelEnabled(to)) logger[to]({ event: 'slack.sdk_log', source: 'slack' }, format(parts));
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    setLevel: (next: string) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
