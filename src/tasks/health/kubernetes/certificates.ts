// Certificates by expiry: cert-manager's Certificates where its CRD exists, and the x509 inside kubernetes.io/tls secrets (node:crypto).
import { X509Certificate } from 'node:crypto';
import type { Finding } from '../check.ts';
import type { KubernetesCheckConfig } from '../../../config/schema.ts';
import { age, objectFinding, plural, span } from './finding.ts';
import type { Snapshot, TlsSecret } from './reads.ts';
import { parsedTime } from './schemas.ts';

interface Expiry {
  kind: 'Certificate' | 'Secret';
  name: string;
  notAfter: Date;
}

export function certificateFindings(
  snapshot: Snapshot,
  spec: KubernetesCheckConfig,
  now: Date,
): { findings: Finding[]; okText: string | undefined } {
  const findings: Finding[] = [];
  const expiries: Expiry[] = [];
  if (Array.isArray(snapshot.certificates)) {
    for (const certificate of snapshot.certificates) {
      const name = certificate.metadata.name;
      const notAfter = parsedTime(certificate.status?.notAfter);
      const notReady = (certificate.status?.conditions ?? []).find((c) => c.type === 'Ready' && c.status !== 'True');
      if (notAfter) expiries.push({ kind: 'Certificate', name, notAfter });
      // An expiry finding says more than "not ready" (cert-manager marks an expired certificate not ready too).
      if (notReady && !(notAfter && notAfter.getTime() - now.getTime() <= spec.certificateWarn))
        findings.push(
          objectFinding({
            status: 'warn',
            kind: 'Certificate',
            name,
            reason: notReady.reason ?? 'NotReady',
            ...(notReady.message ? { message: notReady.message } : {}),
            phrase: `not ready${notReady.reason ? ` (${notReady.reason})` : ''}`,
          }),
        );
    }
  }
  const namedByIngresses = new Set((snapshot.ingresses ?? []).flatMap((i) => (i.spec?.tls ?? []).map((tls) => tls.secretName)));
  for (const secret of snapshot.secrets) {
    // A missing secret an ingress names is that ingress's finding (TLSSecretMissing).
    if (!secret.found && namedByIngresses.has(secret.name)) continue;
    const read = readSecret(secret);
    if ('notAfter' in read) expiries.push({ kind: 'Secret', name: secret.name, notAfter: read.notAfter });
    else if (read.problem)
      findings.push(
        objectFinding({
          status: 'warn',
          kind: 'Secret',
          name: secret.name,
          reason: read.reason,
          message: read.problem,
          phrase: read.problem,
        }),
      );
  }
  let valid = 0;
  for (const { kind, name, notAfter } of expiries) {
    const left = notAfter.getTime() - now.getTime();
    const date = notAfter.toISOString().slice(0, 10);
    if (left <= 0)
      findings.push(
        objectFinding({
          status: 'critical',
          kind,
          name,
          reason: 'Expired',
          at: notAfter,
          message: `expired ${date}`,
          phrase: `expired ${age(-left)} ago (${date})`,
        }),
      );
    else if (left <= spec.certificateWarn)
      findings.push(
        objectFinding({
          status: left <= spec.certificateCritical ? 'critical' : 'warn',
          kind,
          name,
          reason: 'ExpiresSoon',
          at: notAfter,
          message: `expires ${date}`,
          phrase: `expires in ${age(left)} (${date})`,
        }),
      );
    else valid += 1;
  }
  return {
    findings,
    okText: valid > 0 ? `${plural(valid, 'certificate')} valid beyond ${span(spec.certificateWarn)}` : undefined,
  };
}

type SecretReading = { notAfter: Date } | { problem: string | undefined; reason: string };

/**
 * The leaf certificate's expiry from `tls.crt` only. The schema that parsed the secret kept nothing else, so the key
 * is never in reach of a log line, a reply or the audit log.
 */
function readSecret(secret: TlsSecret): SecretReading {
  if (!secret.found) return { problem: 'not found', reason: 'NotFound' };
  if (secret.type !== 'kubernetes.io/tls')
    return { problem: `is of type ${secret.type ?? 'Opaque'}, not kubernetes.io/tls`, reason: 'NotTLS' };
  if (!secret.certificate) return { problem: 'has no tls.crt', reason: 'NoCertificate' };
  try {
    const pem = Buffer.from(secret.certificate, 'base64').toString('utf8');
    return { notAfter: new X509Certificate(pem).validToDate };
  } catch {
    return { problem: 'tls.crt is not a PEM certificate', reason: 'BadCertificate' };
  }
}
