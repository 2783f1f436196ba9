// Services that select no ready pod (read from their EndpointSlices) and ingresses whose backend service or TLS secret is missing.
import type { Finding } from '../check.ts';
import { objectFinding, plural } from './finding.ts';
import type { Snapshot } from './reads.ts';
import { backendServices, serviceSelects, type Scope } from './scope.ts';

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export function serviceFindings(snapshot: Snapshot, scope: Scope): { findings: Finding[]; okText: string | undefined } {
  const { services, endpointSlices, pods } = snapshot;
  // Without the slices nothing can be said about endpoints; the missing read is reported as a gap.
  if (!services || !endpointSlices) return { findings: [], okText: undefined };
  const findings: Finding[] = [];
  let ok = 0;
  for (const service of services.filter((s) => scope.service(s))) {
    const selector = service.spec?.selector ?? {};
    // ExternalName services have no endpoints, and services without a selector have theirs managed by hand.
    if (service.spec?.type === 'ExternalName' || Object.keys(selector).length === 0) continue;
    const slices = endpointSlices.filter((slice) => slice.metadata.labels?.[SERVICE_NAME_LABEL] === service.metadata.name);
    // EndpointConditions: a nil `ready` is to be read as ready.
    const ready = slices.reduce(
      (sum, slice) => sum + (slice.endpoints ?? []).filter((endpoint) => endpoint.conditions?.ready !== false).length,
      0,
    );
    if (ready > 0) {
      ok += 1;
      continue;
    }
    const selectorText = Object.entries(selector)
      .map(([key, value]) => `${key}=${value}`)
      .join(',');
    const matching = pods?.filter((pod) => serviceSelects(selector, pod.metadata.labels) && pod.status?.phase !== 'Succeeded');
    const which =
      matching === undefined
        ? ''
        : matching.length === 0
          ? ': it selects no pod'
          : `: none of the ${plural(matching.length, 'pod')} it selects is ready`;
    findings.push(
      objectFinding({
        status: 'critical',
        kind: 'Service',
        name: service.metadata.name,
        reason: 'NoReadyEndpoints',
        message: `selector ${selectorText}${which}`,
        phrase: `no ready endpoints (selector ${selectorText}${which})`,
      }),
    );
  }
  return { findings, okText: ok > 0 ? `${plural(ok, 'service')} with ready endpoints` : undefined };
}

export function ingressFindings(snapshot: Snapshot, scope: Scope): Finding[] {
  const findings: Finding[] = [];
  const services = snapshot.services ? new Set(snapshot.services.map((s) => s.metadata.name)) : undefined;
  const missingSecrets = new Set(snapshot.secrets.filter((s) => !s.found).map((s) => s.name));
  for (const ingress of (snapshot.ingresses ?? []).filter((i) => scope.ingress(i))) {
    const name = ingress.metadata.name;
    if (services)
      for (const backend of backendServices(ingress))
        if (!services.has(backend))
          findings.push(
            objectFinding({
              status: 'warn',
              kind: 'Ingress',
              name,
              reason: 'BackendServiceMissing',
              message: `backend service ${backend} does not exist`,
              phrase: `backend service ${backend} does not exist`,
            }),
          );
    for (const tls of ingress.spec?.tls ?? [])
      if (tls.secretName && missingSecrets.has(tls.secretName))
        findings.push(
          objectFinding({
            status: 'warn',
            kind: 'Ingress',
            name,
            reason: 'TLSSecretMissing',
            message: `TLS secret ${tls.secretName} does not exist${tls.hosts?.length ? ` (hosts ${tls.hosts.join(', ')})` : ''}`,
            phrase: `TLS secret ${tls.secretName} does not exist`,
          }),
        );
  }
  return findings;
}
