// Streams bytes into one S3 object by multipart upload, hashing on the way; completes only once the producer is known to have succeeded, aborts otherwise.
import { createHash } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { isDeadlineError } from '../../deadline.ts';
import { ExternalError, errorMessage } from '../../errors.ts';
import { s3ErrorMessage } from '../../clients/s3.ts';
import type { ByteReader } from './byte-reader.ts';

export interface StreamUploadOptions {
  s3: S3Client;
  bucket: string;
  key: string;
  contentType: string;
  metadata?: Record<string, string>;
  serverSideEncryption?: ServerSideEncryption | undefined;
  /** Read straight into the part being filled; cancelled when the upload fails. */
  source: ByteReader;
  /**
   * Settles once the producer's fate is known: resolves when it succeeded (pg_dump exited 0), rejects with why not.
   * The end of `source` proves nothing — a pg_dump that fails after writing still closes its output normally — so the
   * upload is completed only after this resolved.
   */
  producerSucceeded: Promise<void>;
  /** Ends the producer (kills pg_dump) when the upload fails first. */
  stopProducer(): void;
  signal: AbortSignal;
  /** Size of the first parts (S3's minimum is 5 MiB, except for the last part); grows as the part count does. */
  partSizeBytes?: number;
  /** Parts uploading at once while the next one fills. */
  maxPartsInFlight?: number;
  onBytes?(total: number): void;
}

export interface StreamUploadResult {
  bucket: string;
  key: string;
  sizeBytes: number;
  sha256: string;
  parts: number;
}

export const DEFAULT_PART_SIZE = 5 * 1024 * 1024;
const MAX_PARTS = 10_000;
// S3 allows 10,000 parts: doubling the part size every 1,000 parts reaches ~8 TB from 8 MiB parts.
const PARTS_PER_SIZE = 1_000;
// Requests made while cleaning up must not use the task's (possibly aborted) signal.
const CLEANUP_TIMEOUT_MS = 30_000;

/** The size of part `n` (1-based). */
export function partSize(base: number, n: number): number {
  return base * 2 ** Math.floor((n - 1) / PARTS_PER_SIZE);
}

/**
 * Uploads `source` as `bucket/key`. On any failure — the producer failing or being killed, S3 refusing a request, the
 * signal — it stops the producer, aborts the multipart upload (and deletes the key if completion was attempted), and
 * throws the first reason; a cleanup that fails too is added to that message, never put in its place.
 */
export async function uploadStream(options: StreamUploadOptions): Promise<StreamUploadResult> {
  const { s3, bucket, key, signal } = options;
  const base = options.partSizeBytes ?? DEFAULT_PART_SIZE;
  const maxInFlight = Math.max(1, options.maxPartsInFlight ?? 2);
  const hash = createHash('sha256');
  const parts: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  const spare: Buffer[] = [];
  let firstFailure: unknown;
  let uploadId: string | undefined;
  let creating: Promise<unknown> = Promise.resolve();
  let completing = false;

  const fail = (reason: unknown) => {
    firstFailure ??= reason;
    options.stopProducer();
    // A read waiting on the producer ends now, not when the producer's exit closes its output.
    options.source.cancel(asError(firstFailure));
  };
  const onAbort = () => fail(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });

  try {
    if (signal.aborted) throw signal.reason;
    // Reading starts while the upload is being created, so pg_dump is not held up by S3's first answer.
    const starting = s3
      .send(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          ContentType: options.contentType,
          Metadata: options.metadata,
          ServerSideEncryption: options.serverSideEncryption,
        }),
        // Not cut off by the signal: an upload the server created after we stopped listening could never be aborted.
        // The client's deadline (timeouts.s3.request) bounds it instead.
      )
      .then(
        (created) => {
          uploadId = created.UploadId;
          if (!uploadId)
            throw new ExternalError('S3', `no upload id in the answer to CreateMultipartUpload for s3://${bucket}/${key}`);
          return uploadId;
        },
        (error: unknown) => {
          throw s3Failure(signal, `cannot start a multipart upload of s3://${bucket}/${key}`, error);
        },
      );
    // An upload that cannot start stops pg_dump at once, rather than when the first part is full.
    creating = starting.catch(fail);

    let partNumber = 1;
    let buffer = takeBuffer(spare, partSize(base, partNumber));
    let filled = 0;
    let size = 0;

    const dispatch = async () => {
      const number = partNumber;
      if (number > MAX_PARTS) throw new ExternalError('S3', `more than ${MAX_PARTS} parts: the object is too large`);
      const id = await starting;
      const body = buffer;
      const length = filled;
      const sending = s3
        .send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId: id,
            PartNumber: number,
            Body: body.subarray(0, length),
            ContentLength: length,
          }),
          { abortSignal: signal },
        )
        .then(
          (answer) => {
            parts[number - 1] = { PartNumber: number, ETag: answer.ETag };
            spare.push(body);
          },
          (error: unknown) => fail(s3Failure(signal, `refused part ${number} of s3://${bucket}/${key}`, error)),
        );
      inFlight.add(sending);
      void sending.finally(() => inFlight.delete(sending));
      partNumber += 1;
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
      buffer = takeBuffer(spare, partSize(base, partNumber));
      filled = 0;
    };

    while (firstFailure === undefined) {
      const n = await options.source.read(buffer.subarray(filled));
      if (n === 0) break;
      hash.update(buffer.subarray(filled, filled + n));
      filled += n;
      size += n;
      options.onBytes?.(size);
      if (filled === buffer.length) await dispatch();
    }
    if (firstFailure !== undefined) throw firstFailure;
    // The last part may be short; an empty object still needs one (empty) part.
    if (filled > 0 || partNumber === 1) await dispatch();
    await Promise.all(inFlight);
    if (firstFailure !== undefined) throw firstFailure;

    // The rule this module exists for: nothing is committed before the producer's exit status is known and good.
    await options.producerSucceeded;
    if (signal.aborted) throw signal.reason;

    completing = true;
    // No abort signal from here: a cancelled CompleteMultipartUpload may still have completed on the server.
    await s3
      .send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      )
      .catch((error: unknown) => {
        throw s3Failure(signal, `refused to complete s3://${bucket}/${key}`, error);
      });
    return { bucket, key, sizeBytes: size, sha256: hash.digest('hex'), parts: parts.length };
  } catch (error) {
    const reason = firstFailure ?? error;
    options.stopProducer();
    options.source.cancel(asError(reason));
    // An upload still being created is aborted once its id is known.
    await creating;
    // Parts still on the wire would otherwise land after the abort and keep the upload alive.
    await Promise.allSettled(inFlight);
    const cleanupFailures: string[] = [];
    if (uploadId) {
      await s3
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), {
          abortSignal: AbortSignal.timeout(CLEANUP_TIMEOUT_MS),
        })
        .catch((abortError: unknown) => {
          // After a completion attempt the upload may be gone because it completed: the delete below is what matters then.
          if (!completing)
            cleanupFailures.push(`aborting multipart upload ${uploadId} also failed: ${s3ErrorMessage(abortError)}`);
        });
    }
    if (completing) {
      await s3
        .send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: AbortSignal.timeout(CLEANUP_TIMEOUT_MS) })
        .catch((deleteError: unknown) =>
          cleanupFailures.push(`deleting s3://${bucket}/${key} also failed: ${s3ErrorMessage(deleteError)}`),
        );
    }
    if (cleanupFailures.length > 0) throw withCleanupFailures(reason, cleanupFailures);
    throw reason;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** The original error, its message extended by what went wrong while cleaning up after it. */
export function withCleanupFailures(reason: unknown, failures: string[]): Error {
  return new Error(`${errorMessage(reason)}; ${failures.join('; ')}`, { cause: reason });
}

function s3Failure(signal: AbortSignal, doing: string, error: unknown): unknown {
  // A request cut off by our own signal failed because of the signal's reason, not because of S3.
  if (signal.aborted) return signal.reason;
  // "S3: CreateMultipartUpload s3://…: no answer within 1 min (the limit is timeouts.s3.request…)" says it all.
  if (isDeadlineError(error)) return error;
  return new ExternalError('S3', `${doing}: ${s3ErrorMessage(error)}`, { code: 's3_failed', cause: error });
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(errorMessage(reason));
}

function takeBuffer(spare: Buffer[], size: number): Buffer {
  while (spare.length > 0) {
    const buffer = spare.pop()!;
    if (buffer.length === size) return buffer;
  }
  return Buffer.allocUnsafe(size);
}
