// The rollback use case's Options (kubectl's UndoOptions from flags and arguments) and its Run struct: what a user asked
// for and what was agreed to. Nothing here talks to Kubernetes, so handlers and confirmations load it at start-up and
// the client library only when a rollback is asked for.
import { z } from 'zod';
import type { ServiceConfig } from '../../config/schema.ts';
import { UserError } from '../../errors.ts';
// User words echoed in a UserError are escaped: these messages are mrkdwn, shown in Slack as well as the terminal.
import { escapeText } from '../../slack/escape.ts';

/** Options: what the user asked for, before anything is read (kubectl's UndoOptions from its flags and arguments). */
export interface UndoOptions {
  service: string;
  namespace: string;
  deployment: string;
  /** The kubeconfig context of the service, when it has its own. */
  context: string | undefined;
  /** kubectl's --to-revision; undefined is its 0: the previous revision. */
  toRevision: number | undefined;
  /** Roll back a paused or mid-rollout deployment anyway. */
  force: boolean;
}

/** `[deployment] [revision]` after the service name: the deployment must be one the service lists; the first is the default. */
export function undoOptions(
  serviceName: string,
  service: ServiceConfig,
  args: string[],
  usage: string,
  force = false,
): UndoOptions {
  const kubernetes = service.kubernetes;
  if (!kubernetes || kubernetes.deployments.length === 0)
    throw new UserError(
      `\`${serviceName}\` has no Kubernetes deployments configured (\`services.${serviceName}.kubernetes.deployments\`), so there is nothing to roll back.`,
      'no_deployments',
    );
  if (args.length > 2) throw new UserError(usage, 'usage');
  const last = args.at(-1);
  const revisionWord = last !== undefined && /^\d+$/.test(last) ? last : undefined;
  const names = revisionWord === undefined ? args : args.slice(0, -1);
  if (names.length > 1) throw new UserError(`The revision must be a number.\n${usage}`, 'usage');
  const deployment = names[0] ?? kubernetes.deployments[0]!;
  if (!kubernetes.deployments.includes(deployment))
    throw new UserError(
      `\`${escapeText(deployment)}\` is not one of \`${serviceName}\`'s deployments (${kubernetes.deployments.map((d) => `\`${d}\``).join(', ')}).`,
      'deployment_unknown',
    );
  const toRevision = revisionWord === undefined ? undefined : Number(revisionWord);
  if (toRevision !== undefined && (!Number.isSafeInteger(toRevision) || toRevision < 1))
    throw new UserError(`Revisions start at 1.\n${usage}`, 'usage');
  return { service: serviceName, namespace: kubernetes.namespace, deployment, context: kubernetes.context, toRevision, force };
}

const imagesSchema = z.array(z.object({ container: z.string(), image: z.string() }));

/**
 * What Run needs and nothing else: the change that was shown and agreed to. Stored with a Slack confirmation, it runs on
 * whichever replica takes the click; printed by the CLI, it is what runs next.
 */
export const undoRunSchema = z.object({
  namespace: z.string(),
  deployment: z.string(),
  context: z.string().optional(),
  fromRevision: z.number().int().positive().optional(),
  fromImages: imagesSchema,
  toRevision: z.number().int().positive(),
  toImages: imagesSchema,
  force: z.boolean(),
  /** How long following may take (from the deployment's progressDeadlineSeconds when it was asked). */
  followForMs: z.number().int().positive(),
});
export type UndoRun = z.infer<typeof undoRunSchema>;
