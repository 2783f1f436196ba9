// The S3 client from config (any S3-compatible endpoint; credentials from the standard AWS environment variables) under timeouts.s3, and S3 errors in words.
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { formatDuration } from '../config/duration.ts';
import type { FileConfig, Timeouts } from '../config/schema.ts';
import { isDeadlineError, withDeadline } from '../deadline.ts';

export interface S3ClientOptions {
  /** Attempts per request, retries included (the SDK's default is 3). */
  maxAttempts?: number;
}

/** Where S3 is and how long it may take (timeouts.s3: connect, one request with its retries, no byte moving on a socket). */
export interface S3Settings {
  s3: FileConfig['s3'];
  timeouts: { s3: Timeouts['s3'] };
}
// Their length follows the object's size, not S3's health: a part upload and a server-side copy are bound by the stall
// limit (no byte moving on the socket) instead of a deadline on the whole request.
const STREAMING_COMMANDS = new Set(['UploadPartCommand', 'CopyObjectCommand', 'UploadPartCopyCommand']);

export function createS3Client(config: S3Settings, options: S3ClientOptions = {}): S3Client {
  const settings = config.s3;
  const timeouts = config.timeouts.s3;
  const client = new S3Client({
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
    // connectionTimeout: the TCP (and TLS) connect; socketTimeout: no byte moving either way on an open request.
    requestHandler: { connectionTimeout: timeouts.connect, socketTimeout: timeouts.stall },
  });
  // One deadline per command, retries included, so an S3 that accepts and never answers ends the command by its limit.
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (STREAMING_COMMANDS.has(context.commandName ?? '')) return next(args);
      const input = args.input as { Bucket?: string; Key?: string; Prefix?: string };
      const where = input.Bucket ? ` s3://${input.Bucket}/${input.Key ?? input.Prefix ?? ''}` : '';
      return withDeadline(
        {
          dependency: 'S3',
          doing: `${(context.commandName ?? 'request').replace(/Command$/, '')}${where}`,
          limitMs: timeouts.request,
          setting: 'timeouts.s3.request',
        },
        () => next(args),
      );
    },
    { step: 'initialize', name: 'runbookBotRequestDeadline' },
  );
  return client;
}

/** "AccessDenied: Access Denied (HTTP 403)" for an S3 answer; the network error otherwise. */
export function s3ErrorMessage(error: unknown): string {
  // Already says "S3: … no answer within …" and which setting; said again it would only get longer.
  if (isDeadlineError(error)) return error.message.replace(/^S3: /, '');
  if (error instanceof Error && error.name === 'TimeoutError') {
    const ms = Number(/(\d+) ?ms/.exec(error.message)?.[1]);
    const limit = Number.isFinite(ms) ? formatDuration(ms) : 'its limit';
    if (/inactivity/.test(error.message))
      return `stalled: no byte moved for ${limit} (the limit is timeouts.s3.stall in the config file)`;
    if (/establish a connection/.test(error.message))
      return `no connection within ${limit} (the limit is timeouts.s3.connect in the config file)`;
  }
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
