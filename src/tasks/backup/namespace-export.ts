// A service's namespace as re-appliable YAML: its deployments, services and configmaps (and secrets when asked), without status or server-set fields.
import { dumpYaml } from '@kubernetes/client-node';
import { z } from 'zod';
import { type KubernetesClients } from '../../clients/kubernetes.ts';
import { kubernetesError } from '../../clients/kubernetes-errors.ts';
import { ExternalError } from '../../errors.ts';

export interface NamespaceExport {
  yaml: string;
  /** How many objects of each kind were saved. */
  counts: Record<string, number>;
}

// Only what the export relies on; the rest of each object is kept as the API server sent it.
const listSchema = z.object({
  items: z.array(z.object({ metadata: z.object({ name: z.string() }).loose() }).loose()),
});

// Set by the server; a file meant for `kubectl apply` is better off without them.
const SERVER_SET_METADATA = ['managedFields', 'resourceVersion', 'uid', 'creationTimestamp', 'generation', 'selfLink'];

export async function exportNamespace(
  k8s: KubernetesClients,
  namespace: string,
  options: { includeSecrets: boolean; at: Date },
): Promise<NamespaceExport> {
  const { apps, core } = await k8s.typed();
  const kinds: Array<{ apiVersion: string; kind: string; list: () => Promise<unknown> }> = [
    { apiVersion: 'apps/v1', kind: 'Deployment', list: () => apps.listNamespacedDeployment({ namespace }) },
    { apiVersion: 'v1', kind: 'Service', list: () => core.listNamespacedService({ namespace }) },
    { apiVersion: 'v1', kind: 'ConfigMap', list: () => core.listNamespacedConfigMap({ namespace }) },
    ...(options.includeSecrets
      ? [{ apiVersion: 'v1', kind: 'Secret', list: () => core.listNamespacedSecret({ namespace }) }]
      : []),
  ];
  const documents: string[] = [];
  const counts: Record<string, number> = {};
  for (const { apiVersion, kind, list } of kinds) {
    let answer: unknown;
    try {
      answer = await list();
    } catch (error) {
      throw kubernetesError(`listing ${kind}s in namespace ${namespace}`, error);
    }
    const parsed = listSchema.safeParse(answer);
    if (!parsed.success) throw new ExternalError('Kubernetes', `unexpected answer listing ${kind}s in namespace ${namespace}`);
    const items = [...parsed.data.items].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    counts[kind] = items.length;
    for (const item of items) {
      const metadata: Record<string, unknown> = { ...item.metadata };
      for (const field of SERVER_SET_METADATA) delete metadata[field];
      const { status: _status, ...rest } = item as Record<string, unknown>;
      documents.push(dumpYaml({ ...rest, apiVersion, kind, metadata }, { sortKeys: false, lineWidth: -1 }));
    }
  }
  const summary = Object.entries(counts)
    .map(([kind, count]) => `${count} ${kind}${count === 1 ? '' : 's'}`)
    .join(', ');
  const header = `# Namespace ${namespace} as saved by runbook-bot at ${options.at.toISOString()}: ${summary}.\n# Restore with: kubectl apply -n ${namespace} -f <this file>\n`;
  return { yaml: header + documents.map((document) => `---\n${document}`).join(''), counts };
}
