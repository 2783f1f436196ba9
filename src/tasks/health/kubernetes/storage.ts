// Persistent volume claims as `kubectl get pvc` shows them: Pending past a grace period, Lost, or bound to a failed volume.
import type { Finding } from '../check.ts';
import type { KubernetesCheckConfig } from '../../../config/schema.ts';
import { age, objectFinding, plural } from './finding.ts';
import type { Snapshot } from './reads.ts';
import type { Scope } from './scope.ts';
import { parsedTime } from './schemas.ts';

export function storageFindings(
  snapshot: Snapshot,
  scope: Scope,
  spec: KubernetesCheckConfig,
  now: Date,
): { findings: Finding[]; okText: string | undefined } {
  const findings: Finding[] = [];
  const volumes = new Map((snapshot.pvs ?? []).map((pv) => [pv.metadata.name, pv]));
  let bound = 0;
  for (const claim of (snapshot.pvcs ?? []).filter((pvc) => scope.pvc(pvc.metadata.name))) {
    const name = claim.metadata.name;
    const phase = claim.status?.phase ?? 'Pending';
    const volumeName = claim.spec?.volumeName;
    if (phase === 'Lost') {
      // The claim's volume is gone: the data behind it may be too.
      findings.push(
        objectFinding({
          status: 'critical',
          kind: 'PersistentVolumeClaim',
          name,
          reason: 'Lost',
          message: volumeName ? `its volume ${volumeName} no longer exists` : 'its volume no longer exists',
          phrase: `Lost${volumeName ? ` (volume ${volumeName} no longer exists)` : ''}`,
        }),
      );
    } else if (phase === 'Pending') {
      const since = parsedTime(claim.metadata.creationTimestamp);
      if (since && now.getTime() - since.getTime() <= spec.pendingGrace) continue;
      const pendingFor = since ? ` for ${age(now.getTime() - since.getTime())}` : '';
      const storageClass = claim.spec?.storageClassName ? ` (storage class ${claim.spec.storageClassName})` : '';
      findings.push(
        objectFinding({
          status: 'warn',
          kind: 'PersistentVolumeClaim',
          name,
          reason: 'Pending',
          ...(since ? { at: since } : {}),
          message: `not bound to a volume${pendingFor}${storageClass}`,
          phrase: `Pending${pendingFor}${storageClass}`,
        }),
      );
    } else {
      const volume = volumeName ? volumes.get(volumeName) : undefined;
      if (volume?.status?.phase === 'Failed') {
        const why = volume.status.message ?? volume.status.reason ?? 'the volume failed';
        findings.push(
          objectFinding({
            status: 'critical',
            kind: 'PersistentVolume',
            name: volume.metadata.name,
            reason: 'Failed',
            message: `bound to claim ${name}: ${why}`,
            phrase: `Failed (claim ${name}): ${why}`,
          }),
        );
      } else bound += 1;
    }
  }
  return { findings, okText: bound > 0 ? `${plural(bound, 'PVC')} bound` : undefined };
}
