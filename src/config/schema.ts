// The one zod schema over environment variables and the YAML config file; every Config type comes from here.
import { validate as isValidCron } from 'node-cron';
import { z } from 'zod';
import { parseDuration } from './duration.ts';

export const SEVERITIES = ['P0', 'P1', 'P2', 'P3'] as const;
export const severitySchema = z.enum(SEVERITIES, { error: 'must be one of P0, P1, P2, P3' });
export type Severity = z.infer<typeof severitySchema>;

/** "15m" → 900000; a plain number is taken as milliseconds. */
export const durationSchema = z.union([z.string(), z.number().nonnegative()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (use e.g. 90s, 15m, 2h, 1d)` });
    return z.NEVER;
  }
  return ms;
});

const timeZoneSchema = z.string().refine(
  (zone) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      return true;
    } catch {
      return false;
    }
  },
  { error: (issue) => `"${String(issue.input)}" is not an IANA time zone (e.g. UTC, Europe/Berlin)` },
);

/** Slack user (U…/W…) or user group (S…) id. */
const slackPrincipalSchema = z.string().regex(/^[UWS][A-Z0-9]{2,}$/, 'must be a Slack user id (U…, W…) or user group id (S…)');

/** "#ops", "ops" or a channel id "C0123…". */
const channelSchema = z
  .string()
  .regex(/^(#?[a-z0-9][a-z0-9_-]{0,79}|[CGD][A-Z0-9]{2,})$/, 'must be a channel name like #ops or a channel id like C0123ABC');

const envVarNameSchema = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name like RLHF_DATABASE_URL');
const serviceNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'service names are lower-case letters, digits and dashes');

const cronSchema = z.string().refine((expr) => isValidCron(expr), {
  error: (issue) => `"${String(issue.input)}" is not a valid cron expression`,
});

// --- JSON assertions such as "integrity_score >= 0.95" ---
// The value may not start with an operator's character, so "score >=" (no value) is refused rather than read as `score > "="`.
const ASSERTION = /^\s*([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*|\[\d+\])*)\s*(>=|<=|==|!=|>|<)\s*([^\s=<>!].*?)\s*$/;
export const jsonAssertionSchema = z.string().transform((text, ctx) => {
  const match = ASSERTION.exec(text);
  if (!match) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not an assertion like "integrity_score >= 0.95"` });
    return z.NEVER;
  }
  const [, path, op, raw] = match as unknown as [string, string, string, string];
  let value: string | number | boolean | null;
  if (/^-?\d+(\.\d+)?$/.test(raw)) value = Number(raw);
  else if (raw === 'true' || raw === 'false') value = raw === 'true';
  else if (raw === 'null') value = null;
  else value = raw.replace(/^["']|["']$/g, '');
  return { text: text.trim(), path, op: op as '>=' | '<=' | '==' | '!=' | '>' | '<', value };
});
export type JsonAssertion = z.infer<typeof jsonAssertionSchema>;

// --- environment ---
const emptyToUndefined = (value: unknown) => (value === '' ? undefined : value);
const optionalEnv = <T extends z.ZodType>(schema: T) => z.preprocess(emptyToUndefined, schema.optional());

export const envSchema = z
  .object({
    SLACK_BOT_TOKEN: optionalEnv(z.string().startsWith('xoxb-', 'must be a bot token starting with xoxb-')),
    SLACK_APP_TOKEN: optionalEnv(z.string().startsWith('xapp-', 'must be an app-level token starting with xapp-')),
    SLACK_SIGNING_SECRET: optionalEnv(z.string().min(8, 'looks too short to be a signing secret')),
    SLACK_API_URL: optionalEnv(z.url({ error: 'must be a URL such as https://slack.com/api/' })),
    PORT: z.preprocess(
      emptyToUndefined,
      z.coerce.number({ error: 'must be a port number (0-65535)' }).int().min(0).max(65_535).default(3000),
    ),
    DATABASE_URL: optionalEnv(z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')),
    DATA_DIR: z.preprocess(emptyToUndefined, z.string().default('./data')),
    REDIS_URL: optionalEnv(z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')),
    ALERTMANAGER_TOKEN: optionalEnv(z.string().min(16, 'must be at least 16 characters')),
    LOG_LEVEL: z.preprocess(
      emptyToUndefined,
      z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ),
    TZ: optionalEnv(timeZoneSchema),
    NODE_ENV: optionalEnv(z.string()),
    RUNBOOK_BOT_CONFIG: optionalEnv(z.string()),
  })
  .superRefine((env, ctx) => {
    // The embedded store serves one process; coordinating replicas only makes sense over one shared PostgreSQL.
    if (env.REDIS_URL && !env.DATABASE_URL)
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_URL'],
        message:
          'coordinates several replicas, which need one shared PostgreSQL: set DATABASE_URL too (the embedded store in DATA_DIR serves one process)',
      });
  });
export type Env = z.infer<typeof envSchema>;

/** The bot itself needs Slack credentials; the CLI does not. Checked on the raw variables so it reports alongside other errors. */
export function missingSlackCredentials(env: Record<string, string | undefined>): Array<{ variable: string; message: string }> {
  const missing: Array<{ variable: string; message: string }> = [];
  if (!env.SLACK_BOT_TOKEN)
    missing.push({ variable: 'SLACK_BOT_TOKEN', message: 'is required: the bot token (xoxb-…) from your Slack app' });
  if (!env.SLACK_APP_TOKEN && !env.SLACK_SIGNING_SECRET) {
    missing.push({
      variable: 'SLACK_SIGNING_SECRET',
      message: 'is required in HTTP mode (set it, or set SLACK_APP_TOKEN for Socket Mode)',
    });
  }
  return missing;
}

// --- the YAML file ---
const escalationLevelSchema = z.strictObject({
  after: durationSchema,
  label: z.string().min(1),
  notify: z.array(slackPrincipalSchema).default([]),
});
export type EscalationLevel = z.infer<typeof escalationLevelSchema>;

const escalationPolicySchema = z.array(escalationLevelSchema).superRefine((levels, ctx) => {
  for (let i = 1; i < levels.length; i += 1) {
    if (levels[i]!.after <= levels[i - 1]!.after) {
      ctx.addIssue({ code: 'custom', path: [i, 'after'], message: 'levels must be in increasing order of `after`' });
    }
  }
});

// Roles people take in an incident besides the responders; the commander is always one of them.
const roleSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,23}$/, 'must be a short lower-case word (letters, digits, -), as typed in `/incident role`'),
  label: z.string().min(1).max(40),
});
export type IncidentRole = z.infer<typeof roleSchema>;

const DEFAULT_ROLES: IncidentRole[] = [
  { name: 'commander', label: 'Incident commander' },
  { name: 'comms', label: 'Communications lead' },
  { name: 'scribe', label: 'Scribe' },
];

const rolesSchema = z
  .array(roleSchema)
  .max(5, 'at most 5 roles (each is a picker on the incident card)')
  .superRefine((roles, ctx) => {
    const names = roles.map((role) => role.name);
    if (!names.includes('commander'))
      ctx.addIssue({ code: 'custom', message: 'must include the `commander` role (the incident commander)' });
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i)
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `role \`${name}\` is listed twice` });
    });
  });

/** A duration, or `off` (null): reminder cadences, the archive delay. */
const cadenceSchema = z.union([
  z.literal('off').transform(() => null),
  durationSchema.refine((ms) => ms > 0, 'must be longer than 0 (or `off`)'),
]);

const DEFAULT_ESCALATION = [
  { after: 15 * 60_000, label: 'Engineering lead', notify: [] },
  { after: 30 * 60_000, label: 'Incident commander', notify: [] },
  { after: 60 * 60_000, label: 'Executive team', notify: [] },
  { after: 120 * 60_000, label: 'External support', notify: [] },
];

const httpCheckSchema = z.strictObject({
  name: z.string().min(1),
  url: z.url(),
  method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
  expectStatus: z
    .array(z.number().int())
    .or(
      z
        .number()
        .int()
        .transform((status) => [status]),
    )
    .default([200]),
  latencyWarn: durationSchema.default(1000),
  headers: z.record(z.string(), z.string()).default({}),
  /** Header name → env var holding its value (e.g. an API token), never the value itself. */
  headersFromEnv: z.record(z.string(), envVarNameSchema).default({}),
  assert: z.array(jsonAssertionSchema).default([]),
});

const postgresCheckSchema = z.strictObject({
  urlEnv: envVarNameSchema,
  connectionsWarnPercent: z.number().min(1).max(100).default(80),
  connectionsCriticalPercent: z.number().min(1).max(100).default(95),
  longQuery: durationSchema.default(5 * 60_000),
  sizeWarnBytes: z.number().int().positive().optional(),
});

const redisCheckSchema = z.strictObject({
  urlEnv: envVarNameSchema,
  memoryWarnPercent: z.number().min(1).max(100).default(80),
  memoryCriticalPercent: z.number().min(1).max(100).default(95),
});

const kubernetesCheckSchema = z
  .strictObject({
    /**
     * `namespace`: everything in the service's namespace is checked (an unlisted worker's crash loop is seen);
     * `workloads`: only the configured workloads and what belongs to them (their pods, services, ingresses, volumes).
     */
    scope: z.enum(['namespace', 'workloads']).default('namespace'),
    /** A pod whose containers restarted at least this often, the last time within `restartWindow`, warns. */
    restartsWarn: z.number().int().positive().default(1),
    /** Only restarts this recent raise the state; older ones are listed as history. */
    restartWindow: durationSchema.default(60 * 60_000),
    /** A PVC Pending, or a pod Pending or not ready, for longer than this warns (a rollout's new pods are not a problem). */
    pendingGrace: durationSchema.default(5 * 60_000),
    certificateWarn: durationSchema.default(30 * 86_400_000),
    certificateCritical: durationSchema.default(7 * 86_400_000),
    eventsWithin: durationSchema.default(60 * 60_000),
    /** A container using at least this share of its memory limit (metrics-server's reading) warns. */
    memoryWarnPercent: z.number().min(1).max(100).default(90),
    /** kubernetes.io/tls secrets to read besides those the namespace's ingresses name (needs `get` on them). */
    tlsSecrets: z.array(z.string().min(1)).default([]),
  })
  .refine((value) => value.certificateCritical < value.certificateWarn, {
    error: 'certificateCritical must be shorter than certificateWarn',
    path: ['certificateCritical'],
  });

const prometheusCheckSchema = z.strictObject({
  url: z.url(),
  /** Only alerts whose labels match all of these count. */
  matchLabels: z.record(z.string(), z.string()).default({}),
});

const healthSchema = z.strictObject({
  timeout: durationSchema.default(10_000),
  http: z.array(httpCheckSchema).default([]),
  postgres: postgresCheckSchema.optional(),
  redis: redisCheckSchema.optional(),
  kubernetes: kubernetesCheckSchema.optional(),
  prometheus: prometheusCheckSchema.optional(),
});

const backupSchema = z.strictObject({
  databaseUrlEnv: envVarNameSchema,
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name'),
  prefix: z.string().default(''),
  retentionDays: z.number().int().positive().default(30),
  serverSideEncryption: z.enum(['AES256', 'aws:kms']).optional(),
  /** Armored OpenPGP public key of the recipient, read from this env var or file. */
  encryption: z
    .strictObject({
      publicKeyEnv: envVarNameSchema.optional(),
      publicKeyFile: z.string().optional(),
      /** For restore tests: the env var holding the armored private key, and the one holding its passphrase. */
      privateKeyEnv: envVarNameSchema.optional(),
      passphraseEnv: envVarNameSchema.optional(),
    })
    .refine((value) => Boolean(value.publicKeyEnv) !== Boolean(value.publicKeyFile), {
      error: 'set exactly one of publicKeyEnv or publicKeyFile',
    })
    .optional(),
  includeSecrets: z.boolean().default(false),
  restoreTest: z
    .strictObject({
      tables: z.array(z.string()).default([]),
      /** A server where the restore test may create its scratch database; default the backed-up database's server. */
      databaseUrlEnv: envVarNameSchema.optional(),
    })
    .default({ tables: [] }),
});

const privacyBudgetSchema = z.strictObject({
  url: z.url(),
  resetUrl: z.url().optional(),
  tokenEnv: envVarNameSchema.optional(),
  warnPercent: z.number().min(1).max(100).default(80),
  criticalPercent: z.number().min(1).max(100).default(90),
});

const permissionListSchema = z.array(slackPrincipalSchema);
const permissionsSchema = z.strictObject({
  incident: permissionListSchema.optional(),
  resolve: permissionListSchema.optional(),
  health: permissionListSchema.optional(),
  backup: permissionListSchema.optional(),
  restore: permissionListSchema.optional(),
  rollback: permissionListSchema.optional(),
  privacyReset: permissionListSchema.optional(),
});
export type PermissionAction = keyof z.infer<typeof permissionsSchema>;

const serviceSchema = z.strictObject({
  displayName: z.string().optional(),
  description: z.string().optional(),
  kubernetes: z
    .strictObject({
      namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a Kubernetes namespace name'),
      deployments: z.array(z.string()).default([]),
      statefulsets: z.array(z.string()).default([]),
      daemonsets: z.array(z.string()).default([]),
      context: z.string().optional(),
    })
    .optional(),
  health: healthSchema.optional(),
  backup: backupSchema.optional(),
  privacyBudget: privacyBudgetSchema.optional(),
  permissions: permissionsSchema.optional(),
  /** Extra people for incidents on this service. */
  responders: z.array(slackPrincipalSchema).default([]),
});
export type ServiceConfig = z.infer<typeof serviceSchema>;
/** A service's `health.kubernetes` check, and where its objects live (`kubernetes`): what the Kubernetes check reads. */
export type KubernetesCheckConfig = NonNullable<NonNullable<ServiceConfig['health']>['kubernetes']>;
export type ServiceKubernetes = NonNullable<ServiceConfig['kubernetes']>;

const scheduleSchema = (cron: string) =>
  z
    .strictObject({
      cron: cronSchema.default(cron),
      timezone: timeZoneSchema.optional(),
      channel: channelSchema.optional(),
      enabled: z.boolean().default(true),
    })
    .prefault({});

// The runbooks' first 15 minutes: assess, communicate, triage.
const DEFAULT_CHECKLIST = [
  'Acknowledge the incident (button or `/incident ack`) and name a commander',
  'Check health of the service, its database, Redis and firing Prometheus alerts (the bot posts a health check here)',
  'Notify the on-call engineer and, if users see it, update the status page',
  'Identify the affected components and estimate user impact; set the severity',
  'Look for recent deployments and config changes (`/rollback <service>` shows the revision history)',
  'Review the service logs and post findings here with `/incident note`',
];

export const fileSchema = z.strictObject({
  timezone: timeZoneSchema.optional(),
  channels: z
    .strictObject({
      announcements: channelSchema.default('#incidents'),
      summaries: channelSchema.default('#ops'),
    })
    .prefault({}),
  incidents: z
    .strictObject({
      channelPrefix: z
        .string()
        .regex(
          /^[a-z0-9][a-z0-9_-]{0,40}$/,
          'must be lower-case letters, digits, - or _ (Slack channel rules), at most 41 characters',
        )
        .default('incident'),
      responders: z.array(slackPrincipalSchema).default([]),
      /** For `/incident declare <title>` without a severity. */
      defaultSeverity: severitySchema.default('P2'),
      severities: z
        .strictObject({
          P0: durationSchema.default(0),
          P1: durationSchema.default(3_600_000),
          P2: durationSchema.default(4 * 3_600_000),
          P3: durationSchema.default(24 * 3_600_000),
        })
        .prefault({}),
      checklist: z.array(z.string().min(1)).default(DEFAULT_CHECKLIST),
      /** The roles of `/incident role @user <role>` and the card's pickers. */
      roles: rolesSchema.default(DEFAULT_ROLES),
      /** Remind the commander when no stakeholder update (`/incident update`) was posted for this long; `off` for none. */
      updateCadence: z
        .strictObject({
          P0: cadenceSchema.default(15 * 60_000),
          P1: cadenceSchema.default(30 * 60_000),
          P2: cadenceSchema.default(2 * 3_600_000),
          P3: cadenceSchema.default(null),
        })
        .prefault({}),
      /** The reminder's Snooze button puts the next reminder this far off. */
      updateSnooze: durationSchema.default(15 * 60_000),
      /** A follow-up (`/incident followup`) is due this long after it was added; past that it counts as overdue. */
      followUpDue: durationSchema.default(14 * 86_400_000),
      /** `/incident reopen` works for this long after the resolve. */
      reopenWithin: durationSchema.default(86_400_000),
      /** Archive the incident channel this long after the resolve (announced a day before; a post there puts it off); `off` keeps it. */
      archiveAfter: cadenceSchema.default(null),
    })
    .prefault({}),
  escalation: z
    .strictObject({
      default: escalationPolicySchema.default(DEFAULT_ESCALATION),
      P0: escalationPolicySchema.optional(),
      P1: escalationPolicySchema.optional(),
      P2: escalationPolicySchema.optional(),
      P3: escalationPolicySchema.optional(),
    })
    .prefault({}),
  /** Durable work (escalations, alarms, channel setups, alert deliveries, queued Slack posts): how replicas share and pace it. */
  timers: z
    .strictObject({
      /** How long a replica's claim on due work is exclusive without renewal; a replica that dies delays that work by at most this. */
      lease: durationSchema.default(30_000),
      /** Longest pause between looks at the work table, so work created on other replicas is seen promptly. */
      pollEvery: durationSchema.default(500),
      /** A page posted later than this after its due time is marked late. */
      lateAfter: durationSchema.default(30_000),
      /** Wait before the first retry of work that failed (Slack refused, an answer was lost); doubling up to 1 min. */
      retryAfter: durationSchema.default(2_000),
    })
    .prefault({}),
  permissions: permissionsSchema.prefault({}),
  confirmations: z
    .strictObject({
      expiresAfter: durationSchema.default(5 * 60_000),
      /**
       * Four-eyes per action: when true, whoever asked cannot confirm their own request; someone else from the
       * action's permission list must.
       */
      requireSecondPerson: z
        .strictObject({
          rollback: z.boolean().default(false),
          restore: z.boolean().default(false),
          backup: z.boolean().default(false),
          privacyReset: z.boolean().default(false),
        })
        .prefault({}),
    })
    .prefault({}),
  /**
   * Signed audit checkpoints (in the manner of CloudTrail's digest files): the head of the hash chain, signed with an
   * Ed25519 key the database does not hold, published where the bot's database role cannot rewrite it.
   */
  audit: z
    .strictObject({
      checkpoints: z
        .strictObject({
          /** The environment variable holding the Ed25519 private key (PEM); or signingKeyFile. */
          signingKeyEnv: envVarNameSchema.default('AUDIT_CHECKPOINT_KEY'),
          signingKeyFile: z.string().min(1).optional(),
          /** The public key (PEM text or a file path) `audit verify` checks with when the private key is not at hand. */
          publicKey: z.string().min(1).optional(),
          s3: z.strictObject({
            bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name'),
            prefix: z.string().default('audit-checkpoints/'),
            /** Object Lock retention (COMPLIANCE mode) for each checkpoint, when the bucket has Object Lock enabled. */
            retentionDays: z.number().int().positive().optional(),
          }),
          /** Also posted here, as a second copy the database cannot touch. */
          slackChannel: channelSchema.optional(),
        })
        .optional(),
    })
    .prefault({}),
  s3: z
    .strictObject({
      endpoint: z.url().optional(),
      region: z.string().default('us-east-1'),
      forcePathStyle: z.boolean().default(false),
    })
    .prefault({}),
  kubernetes: z.strictObject({ kubeconfig: z.string().optional(), context: z.string().optional() }).prefault({}),
  /** Slack's limits as the bot keeps to them (per method tiers and the one-message-a-second channel limit are Slack's own). */
  slack: z
    .strictObject({
      /** The workspace-wide chat.postMessage budget (Slack: "several hundred per minute"); raise it only if Slack allows more. */
      postsPerMinute: z.number().int().positive().default(300),
    })
    .prefault({}),
  /** Receiving over Socket Mode (SLACK_APP_TOKEN set). Slack allows an app ten connections in all, across replicas. */
  socketMode: z
    .strictObject({
      /** Connections per process; Slack delivers each envelope to one of them, so a refresh of one loses nothing. */
      connections: z.number().int().min(1).max(10).default(2),
      /** The second and later connections open this long after the one before, so Slack's refreshes do not coincide. */
      stagger: durationSchema.default(10_000),
      /** /readyz stays ready this long after the last connection closed (a refresh), then answers 503. */
      readinessGrace: durationSchema.default(10_000),
    })
    .prefault({}),
  /**
   * Deadlines on every call that leaves the process. A dependency that accepts a connection and never answers ends
   * the task at its limit with a message naming the dependency and the key below. Health checks use their service's
   * `health.timeout` on top of these.
   */
  timeouts: z
    .strictObject({
      /** One Slack Web API call (the request, not the wait for a rate limit to pass), and one post to a response URL. */
      slack: durationSchema.default(10_000),
      s3: z
        .strictObject({
          connect: durationSchema.default(5_000),
          /** One S3 request (HeadObject, a part upload, a list page…). */
          request: durationSchema.default(60_000),
          /** A streaming upload or download during which no byte moves for this long has stalled. */
          stall: durationSchema.default(60_000),
        })
        .prefault({}),
      kubernetes: z
        .strictObject({
          /** One Kubernetes API request. */
          request: durationSchema.default(15_000),
          /** A watch on which nothing arrives for this long is re-established (rollout following). */
          watchIdle: durationSchema.default(60_000),
        })
        .prefault({}),
      /** HTTP calls to watched services outside health checks (the privacy budget API, Prometheus). */
      http: durationSchema.default(10_000),
      postgres: z
        .strictObject({
          connect: durationSchema.default(5_000),
          /** One statement on the bot's own PostgreSQL or a watched database (health, backup planning, restore test counts). */
          statement: durationSchema.default(30_000),
        })
        .prefault({}),
      /** One Redis command (coordination between replicas, Redis health checks). */
      redis: durationSchema.default(2_000),
      /** pg_dump or pg_restore producing or taking no bytes for this long has stalled and is stopped. */
      pgToolStall: durationSchema.default(120_000),
    })
    .prefault({}),
  /**
   * The work after a Slack ack (running checks, declaring, reading histories…) waits its turn per kind: the command
   * (`health`, `incident`, `backup`, `rollback`, `privacy-budget`) or the button's family (`incident`, `confirmation`).
   */
  queue: z
    .strictObject({
      /** Jobs of one kind running at once; more wait in line, and their ack says where they stand. */
      concurrency: z.number().int().positive().default(8),
      /** Per kind, in place of `concurrency` (e.g. `{ backup: 2 }`). */
      kinds: z.record(z.string(), z.number().int().positive()).default({}),
      /** Requests of one kind waiting at most; one more is refused with "try again in a minute". */
      waiting: z.number().int().positive().default(100),
    })
    .prefault({}),
  /** Identical reads share one run: a service's health, a privacy budget reading, a rollout history. */
  reads: z
    .strictObject({
      /** A result younger than this is served again (saying how old it is) instead of asking the dependency again; 0 shares only runs in flight. */
      freshFor: durationSchema.default(10_000),
    })
    .prefault({}),
  alertmanager: z
    .strictObject({
      severityLabel: z.string().default('severity'),
      severityMap: z.record(z.string(), severitySchema).default({ critical: 'P1', error: 'P2', warning: 'P3', info: 'P3' }),
      openAt: severitySchema.default('P2'),
      serviceLabel: z.string().default('service'),
      resolveIncidentOnResolved: z.boolean().default(false),
      storm: z
        .strictObject({ maxIncidents: z.number().int().positive().default(5), window: durationSchema.default(10 * 60_000) })
        .prefault({}),
    })
    .prefault({}),
  healthIncidents: z
    .strictObject({
      afterConsecutiveCritical: z.number().int().positive().default(3),
      severity: severitySchema.default('P2'),
    })
    .prefault({}),
  services: z.record(serviceNameSchema, serviceSchema).default({}),
  schedules: z
    .strictObject({
      dailyHealth: scheduleSchema('0 6 * * *'),
      /** Quiet health checks feeding healthIncidents (K critical results in a row open an incident). */
      healthWatch: scheduleSchema('*/5 * * * *'),
      dailyBackup: scheduleSchema('0 2 * * *'),
      privacyBudget: scheduleSchema('0 9 * * *'),
      weeklyReport: scheduleSchema('0 9 * * 1'),
      monthlyRestoreTest: scheduleSchema('0 3 1 * *'),
      /** A signed audit checkpoint (only when audit.checkpoints is configured). */
      auditCheckpoint: scheduleSchema('0 * * * *'),
      catchUpWithin: durationSchema.default(6 * 3_600_000),
    })
    .prefault({}),
});
export type FileConfig = z.infer<typeof fileSchema>;
export type Timeouts = FileConfig['timeouts'];

/** The whole configuration: both sources in one schema, so one parse reports every problem. */
export const configSchema = z.object({ env: envSchema, file: fileSchema });

export interface Config {
  env: Env;
  file: FileConfig;
  /** The effective time zone: the file's, else TZ, else UTC. */
  timezone: string;
  /** Where the file came from, or undefined when the built-in defaults are used. */
  source: string | undefined;
  /**
   * The environment the config was read from, read once: where the variables the file names are looked up
   * (backup.databaseUrlEnv, backup.encryption.publicKeyEnv, …), so no task reads process.env itself.
   */
  variables: Readonly<Record<string, string | undefined>>;
}
