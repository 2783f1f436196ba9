// The S3 client from config (any S3-compatible endpoint; credentials from the standard AWS environment variables), and S3 errors in words.
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import type { FileConfig } from '../config/schema.ts';

export interface S3ClientOptions {
  /** Attempts per request, retries included (the SDK's default is 3). */
  maxAttempts?: number;
}

export function createS3Client(settings: FileConfig['s3'], options: S3ClientOptions = {}): S3Client {
  return new S3Client({
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    ...(settings.endpoint
      ? {
          endpoint: settings.endpoint,
          // S3-compatible stores (MinIO, Ceph, s3rver…) do not all know the SDK's newer default checksum headers;
          // the bot hashes every object itself and verifies it after upload.
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }
      : {}),
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
  });
}

/** "AccessDenied: Access Denied (HTTP 403)" for an S3 answer; the network error otherwise. */
export function s3ErrorMessage(error: unknown): string {
  if (error instanceof S3ServiceException) {
    const status = error.$metadata.httpStatusCode;
    const message = error.message && error.message !== error.name ? `: ${error.message}` : '';
    return `${error.name}${message}${status ? ` (HTTP ${status})` : ''}`;
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

/** True for "this key does not exist" (HeadObject answers a bare 404). */
export function isNotFound(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  return error.name === 'NotFound' || error.name === 'NoSuchKey' || error.$metadata.httpStatusCode === 404;
}
