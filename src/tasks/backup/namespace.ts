// The config part of a backup: the service's Kubernetes namespace as YAML (secrets only when encrypted) in one S3 object, verified and recorded.
import { chunkReader } from './byte-reader.ts';
import { loadRecipientKey, startEncryption } from './encrypt.ts';
import type { BackupDeps, BackupObject, BackupRequest, BackupSettings } from './model.ts';
import { finalizeObject, uploadObject } from './object.ts';

export async function backUpNamespace(
  deps: BackupDeps,
  request: BackupRequest,
  settings: BackupSettings,
  key: string,
  signal: AbortSignal,
  notes: string[],
): Promise<BackupObject> {
  const kubernetes = request.config.kubernetes;
  if (!kubernetes) throw new Error(`${request.service} has no kubernetes section (namespace) in the config`);
  if (!deps.kubernetes) throw new Error('Kubernetes is not available to this process');
  const started = deps.clock.now();
  const recipient = settings.encryption ? await loadRecipientKey(settings.encryption, request.env) : undefined;
  const includeSecrets = settings.includeSecrets && recipient !== undefined;
  if (settings.includeSecrets && !includeSecrets)
    notes.push('secrets were not saved: backup.includeSecrets needs backup.encryption, so they never sit in the bucket in clear');
  // Loaded here: the Kubernetes client library is large, and a database backup does not need it.
  const { exportNamespace } = await import('./namespace-export.ts');
  const exported = await exportNamespace(await deps.kubernetes(kubernetes.context), kubernetes.namespace, {
    includeSecrets,
    at: started,
  });
  if (signal.aborted) throw signal.reason;
  const bytes = Buffer.from(exported.yaml, 'utf8');
  const encryption = recipient ? startEncryption(recipient, 'pipe', request.env) : undefined;
  let uploaded;
  try {
    encryption?.stdin!.on('error', () => undefined);
    encryption?.stdin!.end(bytes);
    uploaded = await uploadObject(
      deps,
      request,
      settings,
      { kind: 'config', key, recipient, started, signal },
      chunkReader(encryption ? encryption.stdout! : [bytes]),
      { succeeded: encryption?.exited ?? Promise.resolve(), stop: () => encryption?.stop() },
    );
  } finally {
    encryption?.stop();
    await encryption?.exited.catch(() => undefined);
  }
  return finalizeObject(deps, request, settings, uploaded, signal, {
    kind: 'config',
    started,
    recipient,
    extraMetadata: { namespace: kubernetes.namespace, secrets: includeSecrets ? 'yes' : 'no' },
    objectCounts: exported.counts,
  });
}
