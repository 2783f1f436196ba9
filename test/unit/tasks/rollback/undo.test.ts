// The rollback use case's Options (kubectl's arguments: [deployment] [revision]) and Validate (the struct Run works from).
import { describe, expect, it } from 'vitest';
import type { KubernetesClients } from '../../../../src/clients/kubernetes.ts';
import { parseConfig } from '../../../../src/config/load.ts';
import type { RevisionHistory } from '../../../../src/tasks/rollback/history.ts';
import { rolloutStatus } from '../../../../src/tasks/rollback/status.ts';
import { undoOptions, undoRunSchema } from '../../../../src/tasks/rollback/options.ts';
import { validateUndo } from '../../../../src/tasks/rollback/undo.ts';

const config = parseConfig(
  {},
  { services: { audit: { kubernetes: { namespace: 'prod', deployments: ['api', 'worker'], context: 'eu' } }, bare: {} } },
  'test.yml',
  'cli',
);
const usage = 'Usage: /rollback <service> [deployment] [revision]';
const options = (args: string[]) => undoOptions('audit', config.file.services.audit!, args, usage);

describe('undoOptions', () => {
  it('defaults to the first deployment and the previous revision; takes a deployment, a revision, or both', () => {
    expect(options([])).toEqual({
      service: 'audit',
      namespace: 'prod',
      deployment: 'api',
      context: 'eu',
      toRevision: undefined,
      force: false,
    });
    expect(options(['worker'])).toMatchObject({ deployment: 'worker', toRevision: undefined });
    expect(options(['7'])).toMatchObject({ deployment: 'api', toRevision: 7 });
    expect(options(['worker', '7'])).toMatchObject({ deployment: 'worker', toRevision: 7 });
  });

  it('refuses what it cannot act on, with a code for each reason', () => {
    expect(() => options(['billing'])).toThrow(expect.objectContaining({ code: 'deployment_unknown' }));
    expect(() => options(['api', 'worker'])).toThrow(expect.objectContaining({ code: 'usage' }));
    expect(() => options(['0'])).toThrow(expect.objectContaining({ code: 'usage' }));
    expect(() => options(['a', 'b', 'c'])).toThrow(expect.objectContaining({ code: 'usage' }));
    expect(() => undoOptions('bare', config.file.services.bare!, [], usage)).toThrow(
      expect.objectContaining({ code: 'no_deployments' }),
    );
  });
});

describe('validateUndo', () => {
  const template = (image: string) => ({ metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'api', image }] } });
  const deployment = {
    metadata: { name: 'api', generation: 3, annotations: { 'deployment.kubernetes.io/revision': '3' } },
    spec: { replicas: 2, progressDeadlineSeconds: 120, selector: { matchLabels: { app: 'api' } }, template: template('api:3') },
    status: { observedGeneration: 3, replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
  };
  const revision = (n: number, current = false) => ({
    revision: n,
    replicaSet: `api-${n}`,
    images: [{ container: 'api', image: `api:${n}` }],
    changeCause: undefined,
    createdAt: undefined,
    current,
    replicas: current ? 2 : 0,
    readyReplicas: current ? 2 : 0,
    template: template(`api:${n}`),
    annotations: {},
  });
  const history: RevisionHistory = {
    namespace: 'prod',
    deployment,
    revisions: [revision(3, true), revision(2), revision(1)],
    currentRevision: 3,
    images: [{ container: 'api', image: 'api:3' }],
    rollout: rolloutStatus(deployment),
  };
  const completed = (toRevision?: number) => ({
    options: { ...options([]), ...(toRevision ? { toRevision } : {}) },
    k8s: {} as KubernetesClients,
    history,
  });

  it('gives Run a struct it can work from alone: what changes, where, and how long to follow', () => {
    const { plan, run } = validateUndo(completed());
    expect(plan.to.revision).toBe(2);
    expect(run).toEqual({
      namespace: 'prod',
      deployment: 'api',
      context: 'eu',
      fromRevision: 3,
      fromImages: [{ container: 'api', image: 'api:3' }],
      toRevision: 2,
      toImages: [{ container: 'api', image: 'api:2' }],
      force: false,
      followForMs: 180_000,
    });
    // It survives being stored with a confirmation and read back on another replica.
    expect(undoRunSchema.parse(JSON.parse(JSON.stringify(run)))).toEqual(run);
  });

  it('refuses a revision that is not in the history', () => {
    expect(() => validateUndo(completed(9))).toThrow(expect.objectContaining({ code: 'revision_not_found' }));
  });
});
