// What a backup is in the bucket: its key, its checksum metadata and HeadObject verification, its manifest object, and how to find a service's backups.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { isNotFound, s3ErrorMessage } from '../../clients/s3.ts';
import { ExternalError } from '../../errors.ts';
import { backupKeyPattern, manifestKey, type BackupKind } from './keys.ts';

// CopyObject copies at most 5 GiB; larger objects are copied part by part.
const SINGLE_COPY_LIMIT = 5 * 1024 ** 3;
const COPY_PART_SIZE = 1024 ** 3;

export interface StoredBackup {
  key: string;
  sizeBytes: number;
  lastModified: Date;
  /** When the key says it was taken. */
  takenAt: Date;
  encrypted: boolean;
  /** A manifest exists: the bot verified it after upload. */
  verified: boolean;
}

/** The service's backups of one kind in the bucket, newest first. */
export async function listStoredBackups(
  s3: S3Client,
  bucket: string,
  prefix: string,
  service: string,
  kind: BackupKind,
  signal?: AbortSignal,
): Promise<StoredBackup[]> {
  const pattern = backupKeyPattern(prefix, service, kind);
  const objects = new Map<string, { size: number; lastModified: Date }>();
  let token: string | undefined;
  do {
    const page = await s3
      .send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}${service}-${kind}-`, ContinuationToken: token }), {
        abortSignal: signal,
      })
      .catch((error: unknown) => {
        throw new ExternalError('S3', `cannot list s3://${bucket}/${prefix}: ${s3ErrorMessage(error)}`, { cause: error });
      });
    for (const object of page.Contents ?? []) {
      if (object.Key) objects.set(object.Key, { size: object.Size ?? 0, lastModified: object.LastModified ?? new Date(0) });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const backups: StoredBackup[] = [];
  for (const [key, object] of objects) {
    const match = pattern.exec(key);
    if (!match) continue;
    const stamp = match[1]!;
    const takenAt = new Date(
      `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13)}`,
    );
    backups.push({
      key,
      sizeBytes: object.size,
      lastModified: object.lastModified,
      takenAt,
      encrypted: match[2] !== undefined,
      verified: objects.has(manifestKey(key)),
    });
  }
  return backups.sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime() || (a.key < b.key ? 1 : -1));
}

export interface ObjectMetadata {
  contentType: string;
  metadata: Record<string, string>;
  serverSideEncryption?: ServerSideEncryption | undefined;
}

/**
 * Stores the metadata (with the SHA-256 known only once the stream ended) on the object: a copy onto itself, which
 * S3 allows when the metadata is replaced; part by part above CopyObject's 5 GiB limit.
 */
export async function replaceObjectMetadata(
  s3: S3Client,
  bucket: string,
  key: string,
  sizeBytes: number,
  meta: ObjectMetadata,
  options: { singleCopyLimit?: number; copyPartSize?: number } = {},
): Promise<void> {
  const source = `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  const described = {
    Bucket: bucket,
    Key: key,
    ContentType: meta.contentType,
    Metadata: meta.metadata,
    ServerSideEncryption: meta.serverSideEncryption,
  };
  const failed = (error: unknown) =>
    new ExternalError('S3', `cannot store the checksum metadata on s3://${bucket}/${key}: ${s3ErrorMessage(error)}`, {
      cause: error,
    });
  if (sizeBytes <= (options.singleCopyLimit ?? SINGLE_COPY_LIMIT)) {
    await s3.send(new CopyObjectCommand({ ...described, CopySource: source, MetadataDirective: 'REPLACE' })).catch((error) => {
      throw failed(error);
    });
    return;
  }
  const { UploadId: uploadId } = await s3.send(new CreateMultipartUploadCommand(described)).catch((error) => {
    throw failed(error);
  });
  try {
    const partBytes = options.copyPartSize ?? COPY_PART_SIZE;
    const parts: CompletedPart[] = [];
    for (let start = 0, number = 1; start < sizeBytes; start += partBytes, number += 1) {
      const end = Math.min(start + partBytes, sizeBytes) - 1;
      const answer = await s3.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: number,
          CopySource: source,
          CopySourceRange: `bytes=${start}-${end}`,
        }),
      );
      parts.push({ PartNumber: number, ETag: answer.CopyPartResult?.ETag });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
    );
  } catch (error) {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
    throw failed(error);
  }
}

/** HeadObject agrees with what was streamed: the size, and the SHA-256 in the object's metadata. */
export async function verifyStoredObject(
  s3: S3Client,
  bucket: string,
  key: string,
  expected: { sizeBytes: number; sha256: string },
): Promise<void> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).catch((error: unknown) => {
    throw new ExternalError(
      'S3',
      `cannot verify s3://${bucket}/${key}: ${isNotFound(error) ? 'the object is not there' : s3ErrorMessage(error)}`,
      { cause: error },
    );
  });
  if (head.ContentLength !== expected.sizeBytes) {
    throw new ExternalError(
      'S3',
      `verification failed for s3://${bucket}/${key}: S3 holds ${head.ContentLength ?? 'an unknown number of'} bytes, ${expected.sizeBytes} were streamed`,
      { code: 'verification_failed' },
    );
  }
  const stored = head.Metadata?.sha256;
  if (stored !== expected.sha256) {
    throw new ExternalError(
      'S3',
      `verification failed for s3://${bucket}/${key}: its sha256 metadata is ${stored ?? 'missing'}, the stream's SHA-256 was ${expected.sha256}`,
      { code: 'verification_failed' },
    );
  }
}

/** The JSON object stored beside each verified backup (`<key>.manifest.json`). */
export interface BackupManifest {
  service: string;
  kind: BackupKind;
  bucket: string;
  key: string;
  sizeBytes: number;
  /** Hex SHA-256 of the stored bytes (after encryption). */
  sha256: string;
  encrypted: boolean;
  /** Fingerprint of the OpenPGP recipient key. */
  recipient: string | null;
  serverSideEncryption: string | null;
  database: string | null;
  pgVersion: string | null;
  pgDumpVersion: string | null;
  startedAt: string;
  durationMs: number;
  verifiedAt: string;
  trigger: string;
  requestedBy: string | null;
}

export async function putManifest(
  s3: S3Client,
  manifest: BackupManifest,
  serverSideEncryption: ServerSideEncryption | undefined,
): Promise<string> {
  const key = manifestKey(manifest.key);
  await s3
    .send(
      new PutObjectCommand({
        Bucket: manifest.bucket,
        Key: key,
        Body: `${JSON.stringify(manifest, null, 2)}\n`,
        ContentType: 'application/json',
        ServerSideEncryption: serverSideEncryption,
      }),
    )
    .catch((error: unknown) => {
      throw new ExternalError('S3', `cannot write the manifest s3://${manifest.bucket}/${key}: ${s3ErrorMessage(error)}`, {
        cause: error,
      });
    });
  return key;
}
