// Signed audit checkpoints, in the manner of CloudTrail's digest files: the chain's head (row, hash, time, the previous
// checkpoint's hash) signed with an Ed25519 key the database does not hold, kept in S3 where the bot's database role
// cannot rewrite it; and the check of the log against them (truncation, tail deletion, head rewinds, rewrites).
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Clock } from '../clock.ts';
import type { FileConfig } from '../config/schema.ts';
import { ConfigError, ExternalError } from '../errors.ts';
import type { Queryable } from '../store/db.ts';
import {
  auditHashesAt,
  canonicalJson,
  lastAuditSeq,
  readAuditHead,
  verifyAuditLog,
  type AuditVerification,
} from '../store/audit.ts';

export type CheckpointSettings = NonNullable<FileConfig['audit']['checkpoints']>;

export interface CheckpointBody {
  version: 1;
  /** The last row of the chain when the checkpoint was made (0: the log was empty). */
  seq: number;
  headHash: string;
  /** ISO time the checkpoint was made. */
  at: string;
  /** SHA-256 of the checkpoint before it (its canonical JSON, signature included); null for the first. */
  previous: string | null;
  /** SHA-256 of the public key (SPKI DER), first 16 hex digits: which key signed. */
  keyId: string;
}

export interface Checkpoint extends CheckpointBody {
  /** Ed25519 over the body's canonical JSON, base64. */
  signature: string;
}

export interface PublishedCheckpoint {
  /** Where it is kept: the S3 key. */
  key: string;
  checkpoint: Checkpoint;
}

export interface CheckpointKeys {
  privateKey?: KeyObject | undefined;
  publicKey: KeyObject;
  keyId: string;
}

/** The signing key from the environment variable or file the config names; the public key from it or from the config. */
export function loadCheckpointKeys(
  settings: CheckpointSettings,
  variables: Readonly<Record<string, string | undefined>>,
  options: { needPrivate: boolean },
): CheckpointKeys {
  const pem = settings.signingKeyFile ? readFileSync(settings.signingKeyFile, 'utf8') : variables[settings.signingKeyEnv];
  let privateKey: KeyObject | undefined;
  if (pem) {
    try {
      privateKey = createPrivateKey(pem);
    } catch (error) {
      throw new ConfigError([`audit.checkpoints: the signing key is not a PEM private key (${(error as Error).message})`]);
    }
    if (privateKey.asymmetricKeyType !== 'ed25519')
      throw new ConfigError([`audit.checkpoints: the signing key must be Ed25519, not ${privateKey.asymmetricKeyType}`]);
  }
  if (options.needPrivate && !privateKey)
    throw new ConfigError([
      `audit.checkpoints: no signing key: set ${settings.signingKeyEnv} to an Ed25519 private key (PEM) or name audit.checkpoints.signingKeyFile`,
    ]);
  let publicKey: KeyObject;
  if (privateKey) publicKey = createPublicKey(privateKey);
  else if (settings.publicKey) {
    const text = settings.publicKey.includes('BEGIN') ? settings.publicKey : readFileSync(settings.publicKey, 'utf8');
    publicKey = createPublicKey(text);
  } else
    throw new ConfigError([
      `audit.checkpoints: no key to verify with: set ${settings.signingKeyEnv} or audit.checkpoints.publicKey (PEM or a file)`,
    ]);
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return { privateKey, publicKey, keyId: createHash('sha256').update(der).digest('hex').slice(0, 16) };
}

export function checkpointHash(checkpoint: Checkpoint): string {
  return createHash('sha256').update(canonicalJson(checkpoint)).digest('hex');
}

export function signCheckpoint(body: CheckpointBody, privateKey: KeyObject): Checkpoint {
  return { ...body, signature: sign(null, Buffer.from(canonicalJson(body)), privateKey).toString('base64') };
}

export function checkpointSignatureValid(checkpoint: Checkpoint, publicKey: KeyObject): boolean {
  const { signature, ...body } = checkpoint;
  try {
    return verify(null, Buffer.from(canonicalJson(body)), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** Where checkpoints are kept; S3 in the bot, anything that lists and stores in tests. */
export interface CheckpointArchive {
  /** Every checkpoint, oldest first. */
  list(): Promise<PublishedCheckpoint[]>;
  /** Stores a new checkpoint under a new key; notes say what protection it has. */
  put(checkpoint: Checkpoint): Promise<{ key: string; notes: string[] }>;
}

/** The S3 object name: time first, so a listing is in order. */
export function checkpointKey(prefix: string, checkpoint: CheckpointBody): string {
  return `${prefix}${checkpoint.at.replace(/[:.]/g, '')}-${String(checkpoint.seq).padStart(12, '0')}.json`;
}

export interface CreateCheckpointDeps {
  store: Queryable;
  clock: Clock;
  keys: CheckpointKeys;
  archive: CheckpointArchive;
  /** A second copy, e.g. a post in the configured Slack channel. */
  mirror?: ((checkpoint: PublishedCheckpoint) => Promise<void>) | undefined;
}

/** Signs the current head, chained to the newest published checkpoint, and publishes it. */
export async function createCheckpoint(deps: CreateCheckpointDeps): Promise<{ published: PublishedCheckpoint; notes: string[] }> {
  if (!deps.keys.privateKey) throw new ConfigError(['audit.checkpoints: no signing key']);
  const head = await readAuditHead(deps.store);
  const existing = await deps.archive.list();
  const last = existing.at(-1);
  const body: CheckpointBody = {
    version: 1,
    seq: head.seq,
    headHash: head.hash,
    at: deps.clock.now().toISOString(),
    previous: last ? checkpointHash(last.checkpoint) : null,
    keyId: deps.keys.keyId,
  };
  const checkpoint = signCheckpoint(body, deps.keys.privateKey);
  const { key, notes } = await deps.archive.put(checkpoint);
  const published = { key, checkpoint };
  if (deps.mirror)
    await deps.mirror(published).catch((error: unknown) => notes.push(`not mirrored: ${(error as Error).message}`));
  return { published, notes };
}

export interface AuditIntegrityReport {
  ok: boolean;
  /** The chain inside the database. */
  chain: AuditVerification;
  checkpoints: number;
  /** The newest valid checkpoint. */
  latest?: PublishedCheckpoint | undefined;
  /** Each problem, naming the row or checkpoint. */
  findings: string[];
}

const short = (hash: string) => `${hash.slice(0, 12)}…`;

/** Checks the chain in the database, then the database against every published checkpoint. */
export async function verifyAuditIntegrity(
  store: Queryable,
  publicKey: KeyObject,
  published: readonly PublishedCheckpoint[],
): Promise<AuditIntegrityReport> {
  const chain = await verifyAuditLog(store);
  const findings: string[] = [];
  if (!chain.ok) findings.push(`row ${chain.firstBroken!.seq}: ${chain.firstBroken!.reason}`);

  // The checkpoints themselves: signed by our key, each chained to the one before, rows never going back.
  const valid: PublishedCheckpoint[] = [];
  let before: PublishedCheckpoint | undefined;
  for (const item of published) {
    const { checkpoint, key } = item;
    if (!checkpointSignatureValid(checkpoint, publicKey)) {
      findings.push(`checkpoint ${key}: the signature does not verify (signed with another key, or edited)`);
      continue;
    }
    if (before) {
      if (checkpoint.previous !== checkpointHash(before.checkpoint))
        findings.push(
          `checkpoint ${key} does not follow checkpoint ${before.key}: a checkpoint between them was removed or replaced`,
        );
      if (checkpoint.seq < before.checkpoint.seq)
        findings.push(
          `checkpoint ${key} records row ${checkpoint.seq}, behind row ${before.checkpoint.seq} of checkpoint ${before.key}: the head was rewound before it was signed`,
        );
    } else if (checkpoint.previous !== null) {
      findings.push(
        `checkpoint ${key} is not the first one made (it names a previous checkpoint): earlier checkpoints are missing`,
      );
    }
    valid.push(item);
    before = item;
  }

  // The database against them: every signed row must still be there with the signed hash.
  const lastRow = await lastAuditSeq(store);
  const head = await readAuditHead(store);
  const hashes = await auditHashesAt(
    store,
    valid.map((item) => item.checkpoint.seq),
  );
  const newest = valid.reduce<PublishedCheckpoint | undefined>(
    (max, item) => (!max || item.checkpoint.seq > max.checkpoint.seq ? item : max),
    undefined,
  );
  if (newest && newest.checkpoint.seq > lastRow) {
    const { seq } = newest.checkpoint;
    findings.push(
      lastRow === 0
        ? `the log is empty but checkpoint ${newest.key} recorded row ${seq} (hash ${short(newest.checkpoint.headHash)}): the audit tables were truncated`
        : `rows ${lastRow + 1} to ${seq} are missing: checkpoint ${newest.key} recorded row ${seq}, the log ends at row ${lastRow} and its head says row ${head.seq} (rows deleted from the end, head rewound)`,
    );
  }
  const rewritten = valid.find((item) => {
    const hash = hashes.get(item.checkpoint.seq);
    return hash !== undefined && hash !== item.checkpoint.headHash;
  });
  if (rewritten) {
    const { seq, headHash } = rewritten.checkpoint;
    findings.push(
      `row ${seq} differs from checkpoint ${rewritten.key} (signed hash ${short(headHash)}, now ${short(hashes.get(seq)!)}): the log up to row ${seq} was rewritten`,
    );
  }
  return { ok: findings.length === 0, chain, checkpoints: published.length, latest: valid.at(-1), findings };
}

/** S3 as the archive; with retentionDays, each object under Object Lock (COMPLIANCE) when the bucket has it enabled. */
export async function s3CheckpointArchive(settings: CheckpointSettings, s3: S3Client, clock: Clock): Promise<CheckpointArchive> {
  const sdk = await import('@aws-sdk/client-s3');
  const { bucket, prefix, retentionDays } = settings.s3;
  const { s3ErrorMessage } = await import('../clients/s3.ts');
  const failed = (what: string, error: unknown) =>
    new ExternalError('S3', `${what} s3://${bucket}/${prefix}: ${s3ErrorMessage(error)}`, { code: 's3_failed', cause: error });
  return {
    async list() {
      const keys: string[] = [];
      let token: string | undefined;
      try {
        do {
          const page = await s3.send(
            new sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }),
          );
          for (const object of page.Contents ?? []) if (object.Key?.endsWith('.json')) keys.push(object.Key);
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
      } catch (error) {
        throw failed('listing checkpoints in', error);
      }
      keys.sort();
      const out: PublishedCheckpoint[] = [];
      for (const key of keys) {
        try {
          const object = await s3.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key }));
          out.push({ key, checkpoint: JSON.parse(await object.Body!.transformToString()) as Checkpoint });
        } catch (error) {
          throw failed(`reading checkpoint ${key} in`, error);
        }
      }
      return out;
    },
    async put(checkpoint) {
      const key = checkpointKey(prefix, checkpoint);
      const notes: string[] = [];
      let lock: { ObjectLockMode: 'COMPLIANCE'; ObjectLockRetainUntilDate: Date; ChecksumAlgorithm: 'SHA256' } | undefined;
      if (retentionDays) {
        const enabled = await s3
          .send(new sdk.GetObjectLockConfigurationCommand({ Bucket: bucket }))
          .then((answer) => answer.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled')
          .catch(() => false);
        if (enabled)
          lock = {
            ObjectLockMode: 'COMPLIANCE',
            ObjectLockRetainUntilDate: new Date(clock.now().getTime() + retentionDays * 86_400_000),
            ChecksumAlgorithm: 'SHA256',
          };
        else
          notes.push(`the bucket ${bucket} has no Object Lock enabled: the checkpoint is protected only by the bucket's policy`);
      }
      try {
        await s3.send(
          new sdk.PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: `${JSON.stringify(checkpoint, null, 2)}\n`,
            ContentType: 'application/json',
            ...lock,
          }),
        );
      } catch (error) {
        throw failed(`storing checkpoint ${key} in`, error);
      }
      if (lock) notes.push(`locked (COMPLIANCE) until ${lock.ObjectLockRetainUntilDate.toISOString()}`);
      return { key, notes };
    },
  };
}

/** What `audit verify` prints. */
export function integrityReportText(report: AuditIntegrityReport): string[] {
  const lines: string[] = [];
  if (report.ok) {
    const latest = report.latest
      ? `; checked against ${report.checkpoints} signed checkpoint${report.checkpoints === 1 ? '' : 's'}, the newest ${report.latest.key} at row ${report.latest.checkpoint.seq}`
      : '; no signed checkpoint published yet, so deletions from the end and rewrites cannot be ruled out';
    lines.push(`audit log intact: ${report.chain.rowsChecked} rows, every hash matches${latest}`);
    return lines;
  }
  lines.push(`audit log BROKEN (${report.chain.rowsChecked} rows checked in the database, ${report.checkpoints} checkpoints):`);
  for (const finding of report.findings) lines.push(`  - ${finding}`);
  return lines;
}

/** The keys and the S3 archive from the config; the S3 SDK loads only here. */
export async function openCheckpointing(
  config: { file: FileConfig; variables: Readonly<Record<string, string | undefined>> },
  clock: Clock,
  options: { needPrivate: boolean },
): Promise<{ settings: CheckpointSettings; keys: CheckpointKeys; archive: CheckpointArchive }> {
  const settings = config.file.audit.checkpoints;
  if (!settings)
    throw new ConfigError(['audit.checkpoints is not configured: name an S3 bucket and a signing key (see the README)']);
  const keys = loadCheckpointKeys(settings, config.variables, options);
  const { createS3Client } = await import('../clients/s3.ts');
  const archive = await s3CheckpointArchive(settings, createS3Client(config.file), clock);
  return { settings, keys, archive };
}

/** The Slack copy of a checkpoint: what was signed, and the signed JSON itself. */
export function checkpointPostText(published: PublishedCheckpoint): string {
  const { checkpoint, key } = published;
  return `:lock: Audit checkpoint: row ${checkpoint.seq}, head \`${checkpoint.headHash}\` at ${checkpoint.at} (key ${checkpoint.keyId}, stored as \`${key}\`)\n\`\`\`${JSON.stringify(checkpoint)}\`\`\``;
}
