// deploy/kubernetes/rbac.yaml grants exactly what the bot calls: every call of a health check, a rollback with its follow and a config backup is allowed, and every grant is used.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { clientsFor } from '../src/clients/kubernetes.ts';
import { systemClock } from '../src/clock.ts';
import { parseConfig } from '../src/config/load.ts';
import { healthTargets, runHealthChecks } from '../src/tasks/health/run.ts';
import { exportNamespace } from '../src/tasks/backup/namespace-export.ts';
import { readRevisionHistory } from '../src/tasks/rollback/history.ts';
import { planRollback, rollback } from '../src/tasks/rollback/rollback.ts';
import { followRollout } from '../src/tasks/rollback/status.ts';
import { ingress, pvc, pv, runningPod, service, workload } from './fakes/kubernetes/fixtures.ts';
import { startFakeKubernetes, type FakeKubernetes, type RecordedRequest } from './fakes/kubernetes/index.ts';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}
interface Document {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
}

const documents = parseAllDocuments(readFileSync(new URL('../deploy/kubernetes/rbac.yaml', import.meta.url), 'utf8')).map(
  (document) => document.toJS() as Document,
);
const roles = documents.filter((document) => document.kind === 'Role');
const clusterRoles = documents.filter((document) => document.kind === 'ClusterRole');
const ns = 'regulensai';

interface Call {
  group: string;
  resource: string;
  verb: string;
  namespace: string | undefined;
  name: string | undefined;
}

/** A request as RBAC sees it (k8s.io/apiserver RequestInfo): group, resource, verb, namespace (the namespace object's own included), name. */
function callOf(request: RecordedRequest): Call {
  const parts = request.path.split('/').filter(Boolean);
  const group = parts[0] === 'apis' ? parts[1]! : '';
  let rest = parts.slice(parts[0] === 'apis' ? 3 : 2);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 2) {
    namespace = rest[1];
    rest = rest.length === 2 ? ['namespaces', rest[1]!] : rest.slice(2);
  }
  const [resource, name] = rest as [string, string | undefined];
  const verb = request.method === 'PATCH' ? 'patch' : request.query.watch === 'true' ? 'watch' : name ? 'get' : 'list';
  return { group, resource, verb, namespace, name };
}

function allowedBy(rules: Rule[], call: Call): boolean {
  return rules.some(
    (rule) =>
      rule.apiGroups.includes(call.group) &&
      rule.resources.includes(call.resource) &&
      rule.verbs.includes(call.verb) &&
      (!rule.resourceNames || (call.name !== undefined && rule.resourceNames.includes(call.name))),
  );
}

let fake: FakeKubernetes;
beforeEach(async () => {
  fake = await startFakeKubernetes({ certManager: true, metricsServer: true });
});
afterEach(async () => {
  fake.controller.stop();
  await fake.close();
});

describe('the RBAC shipped in deploy/kubernetes', () => {
  it('allows every call of a health check, a rollback with its follow and a config backup, and grants nothing else', async () => {
    fake.seedDeployment({ namespace: ns, name: 'regulensai-api', image: 'regulensai/api', revisions: ['1.0.0', '1.1.0'] });
    fake.put(runningPod('regulensai-api-abc-1', { namespace: ns, labels: { app: 'regulensai-api' } }));
    fake.put(workload('StatefulSet', 'regulensai-postgres', { namespace: ns, replicas: 1, ready: 1 }));
    fake.put(service('regulensai-api', ns, { app: 'regulensai-api' }));
    fake.put(ingress('regulensai-api', ns, { backend: 'regulensai-api' }));
    fake.put(pvc('data-0', ns, { phase: 'Bound', volumeName: 'pvc-1' }));
    fake.put(pv('pvc-1', { namespace: ns, name: 'data-0' }, 'Bound'));
    const k8s = clientsFor(fake.kubeConfig());

    const config = parseConfig(
      {},
      {
        services: { regulensai: { kubernetes: { namespace: ns, deployments: ['regulensai-api'] }, health: { kubernetes: {} } } },
      },
      'test.yml',
      'cli',
    );
    const health = () =>
      runHealthChecks(healthTargets(config, 'regulensai').services, { clock: systemClock, env: {}, kubernetes: () => k8s });
    expect((await health()).status).toBe('ok');
    // Where core events are refused, events.k8s.io is read instead.
    fake.forbid('list', 'events');
    await health();
    fake.allow('list', 'events');

    const plan = planRollback(await readRevisionHistory(k8s, { namespace: ns, deployment: 'regulensai-api' }));
    await rollback(k8s, plan);
    fake.controller.start(5);
    const outcome = await followRollout(k8s, {
      namespace: ns,
      deployment: 'regulensai-api',
      clock: systemClock,
      timeoutMs: 10_000,
    });
    expect(outcome.result).toBe('success');
    await exportNamespace(k8s, ns, { includeSecrets: false, at: new Date() });

    const calls = fake.requests.filter((request) => request.status !== 403).map(callOf);
    const role = roles.find((r) => r.metadata.namespace === ns)!;
    for (const call of calls) {
      const rules = call.namespace === undefined ? clusterRoles.flatMap((r) => r.rules!) : role.rules!;
      expect(allowedBy(rules, call), `${call.verb} ${call.resource}.${call.group} ${call.name ?? ''}`).toBe(true);
    }
    // Every grant is used by some call: nothing is granted "just in case".
    for (const rule of [...role.rules!, ...clusterRoles.flatMap((r) => r.rules!)])
      for (const group of rule.apiGroups)
        for (const resource of rule.resources)
          for (const verb of rule.verbs)
            expect(
              calls.some((call) => call.group === group && call.resource === resource && call.verb === verb),
              `granted but never used: ${verb} ${resource}.${group}`,
            ).toBe(true);
  });

  it('writes nothing but a patch on deployments, reads no Secret unless an optional rule is uncommented, and names each namespace', () => {
    for (const role of [...roles, ...clusterRoles]) {
      const writes = role.rules!.flatMap((rule) =>
        rule.verbs
          .filter((verb) => !['get', 'list', 'watch'].includes(verb))
          .map((verb) => `${verb} ${rule.resources.join(',')}`),
      );
      expect(writes).toEqual(role.kind === 'Role' ? ['patch deployments'] : []);
      expect(role.rules!.some((rule) => rule.resources.includes('secrets'))).toBe(false);
    }
    expect(roles.map((role) => role.metadata.namespace)).toEqual(['rlhf-production', 'default', 'regulensai']);
    for (const role of roles) {
      const own = role.rules!.find((rule) => rule.resources.includes('namespaces'))!;
      expect(own.resourceNames).toEqual([role.metadata.namespace]);
    }
  });
});
