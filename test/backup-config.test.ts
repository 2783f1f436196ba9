import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { parseAllDocuments } from 'yaml';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clientsFor } from '../src/clients/kubernetes.ts';
import type { ServiceConfig } from '../src/config/schema.ts';
import type { BackupRequest } from '../src/tasks/backup/model.ts';
import { runBackup } from '../src/tasks/backup/run-backup.ts';
import { startFakeKubernetes, type FakeKubernetes } from './fakes/kubernetes/index.ts';
import {
  backupTaskDeps,
  download,
  generateKeyPair,
  gpgDecrypt,
  seedServiceDatabase,
  type TestKeyPair,
} from './support/backup-fixtures.ts';
import { createTestDatabase, type TestDatabase } from './support/databases.ts';
import { startTestS3, type TestS3 } from './support/s3.ts';
import { openTestStore, type TestStore } from './support/stores.ts';

const BUCKET = 'regulensai-backups';
const NAMESPACE = 'regulensai';

describe('config backups', () => {
  let s3: TestS3;
  let k8s: FakeKubernetes;
  let source: TestDatabase;
  let keys: TestKeyPair;
  let testStore: TestStore;

  beforeAll(async () => {
    s3 = await startTestS3({ buckets: [BUCKET], setAwsEnvironment: true });
    source = await createTestDatabase();
    await seedServiceDatabase(source.url, 2_000);
    keys = await generateKeyPair();
    k8s = await startFakeKubernetes();
    k8s.seedDeployment({ namespace: NAMESPACE, name: 'regulensai-api', image: 'regulensai/api', revisions: ['1.4.1', '1.4.2'] });
    k8s.put({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'regulensai-api', namespace: NAMESPACE },
      spec: { ports: [{ port: 8000 }] },
    });
    k8s.put({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'regulensai-config', namespace: NAMESPACE },
      data: { LOG_LEVEL: 'info' },
    });
    k8s.put({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'regulensai-secrets', namespace: NAMESPACE },
      data: { 'database-url': Buffer.from('postgres://app:s3cret@db/app').toString('base64') },
    });
    // Another namespace's objects stay out.
    k8s.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'someone-else', namespace: 'other' }, data: {} });
  });
  afterAll(async () => {
    await k8s.close();
    await source.drop();
    await s3.close();
  });
  beforeEach(async () => {
    testStore = await openTestStore('postgres');
  });
  afterEach(async () => {
    await testStore.close();
    for (const key of await s3.keys(BUCKET)) await s3.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
  });

  const deps = () => backupTaskDeps(testStore.store, s3, { kubernetes: () => clientsFor(k8s.kubeConfig()) });

  function request(backup: Partial<NonNullable<ServiceConfig['backup']>>, kind: BackupRequest['kind'] = 'config'): BackupRequest {
    return {
      service: 'regulensai',
      config: {
        responders: [],
        kubernetes: { namespace: NAMESPACE, deployments: ['regulensai-api'], statefulsets: [], daemonsets: [] },
        backup: {
          databaseUrlEnv: 'REGULENSAI_DATABASE_URL',
          bucket: BUCKET,
          prefix: 'database/',
          retentionDays: 30,
          includeSecrets: false,
          restoreTest: { tables: [] },
          ...backup,
        },
      },
      kind,
      env: { REGULENSAI_DATABASE_URL: source.url, BACKUP_PUBLIC_KEY: keys.publicKey },
      trigger: 'schedule',
    };
  }

  function kindsAndNames(yaml: string): string[] {
    return parseAllDocuments(yaml).map((document) => {
      const object = document.toJS() as { kind: string; metadata: { name: string; namespace?: string; managedFields?: unknown } };
      expect(object.metadata.managedFields).toBeUndefined();
      return `${object.kind}/${object.metadata.name}`;
    });
  }

  it("saves the namespace's deployments, services and configmaps as one YAML object, without secrets by default", async () => {
    const result = await runBackup(deps(), request({}));
    expect(result.failures).toEqual([]);
    const object = result.objects[0]!;
    expect(object.key).toMatch(/^database\/regulensai-config-\d{8}T\d{6}\.\d{3}Z\.yaml$/);
    expect(object.objectCounts).toEqual({ Deployment: 1, Service: 1, ConfigMap: 1 });
    const yaml = (await download(s3.client, BUCKET, object.key)).toString();
    expect(kindsAndNames(yaml)).toEqual(['Deployment/regulensai-api', 'Service/regulensai-api', 'ConfigMap/regulensai-config']);
    expect(yaml).toContain('image: regulensai/api:1.4.2');
    expect(yaml).not.toContain('s3cret');
  });

  it('leaves secrets out, and says so, when they are asked for without encryption', async () => {
    const result = await runBackup(deps(), request({ includeSecrets: true }));
    expect(result.ok).toBe(true);
    expect(result.notes).toContain(
      'secrets were not saved: backup.includeSecrets needs backup.encryption, so they never sit in the bucket in clear',
    );
    expect((await download(s3.client, BUCKET, result.objects[0]!.key)).toString()).not.toContain('regulensai-secrets');
  });

  it('saves secrets encrypted when asked for with encryption; full adds the database', async () => {
    const result = await runBackup(
      deps(),
      request({ includeSecrets: true, encryption: { publicKeyEnv: 'BACKUP_PUBLIC_KEY' } }, 'full'),
    );
    expect(result.failures).toEqual([]);
    expect(result.objects.map((object) => object.kind)).toEqual(['database', 'config']);
    const config = result.objects[1]!;
    expect(config.key).toMatch(/\.yaml\.gpg$/);
    const stored = await download(s3.client, BUCKET, config.key);
    expect(stored.toString('latin1')).not.toContain('regulensai-secrets');
    const yaml = gpgDecrypt(keys.privateKey, stored).toString();
    expect(kindsAndNames(yaml)).toContain('Secret/regulensai-secrets');
    expect(
      gpgDecrypt(keys.privateKey, await download(s3.client, BUCKET, result.objects[0]!.key))
        .subarray(0, 5)
        .toString(),
    ).toBe('PGDMP');
  });

  it('reports a Kubernetes refusal and leaves nothing in the bucket', async () => {
    k8s.failNext('GET', /\/configmaps$/, 403, {
      message: 'configmaps is forbidden: User "runbook-bot" cannot list resource "configmaps"',
    });
    const result = await runBackup(deps(), request({}));
    expect(result.ok).toBe(false);
    expect(result.failures[0]!.reason).toContain('configmaps is forbidden');
    expect(await s3.keys(BUCKET)).toEqual([]);
  });
});
