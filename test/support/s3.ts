// A local S3 for tests: s3rver in a temp dir behind a small proxy that adds what s3rver 3.7 lacks
// (AbortMultipartUpload, UploadPartCopy), records every request, and makes chosen requests fail.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

export type S3Operation =
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'UploadPartCopy'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'PutObject'
  | 'CopyObject'
  | 'HeadObject'
  | 'GetObject'
  | 'DeleteObject'
  | 'ListObjects'
  | 'CreateBucket'
  | 'Other';

export interface S3Fault {
  operation: S3Operation;
  /** Only this part (UploadPart). */
  partNumber?: number;
  /** Default 500. */
  status?: number;
  /** S3 error code; default InternalError. */
  code?: string;
  message?: string;
  /** How many matching requests fail; default every one. */
  times?: number;
}

export interface RecordedS3Request {
  operation: S3Operation;
  method: string;
  key: string;
  partNumber?: number;
  status: number;
}

export interface TestS3 {
  /** The proxy's URL: give it to the bot as s3.endpoint (with forcePathStyle). */
  endpoint: string;
  /** s3rver itself, without the proxy (no faults, no recording): for benchmarks. */
  directEndpoint: string;
  /** s3rver's own credentials; put them in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. */
  accessKeyId: string;
  secretAccessKey: string;
  /** A client for the test's own checks, talking to s3rver directly (no faults). */
  client: S3Client;
  createBucket(name: string): Promise<void>;
  /** Every key in the bucket (under the prefix), sorted. */
  keys(bucket: string, prefix?: string): Promise<string[]>;
  /** Multipart uploads started and neither completed nor aborted, read from s3rver's directory. */
  pendingUploads(bucket: string): Array<{ uploadId: string; key: string }>;
  /** Removes every pending multipart upload (after a test that left one on purpose). */
  discardPendingUploads(bucket: string): void;
  fail(fault: S3Fault): void;
  clearFaults(): void;
  requests: RecordedS3Request[];
  close(): Promise<void>;
}

const ACCESS_KEY = 'S3RVER';
const SECRET_KEY = 'S3RVER';

export interface TestS3Options {
  /** Buckets to create. */
  buckets?: string[];
  /** Put s3rver's credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, where the bot's S3 client finds them. */
  setAwsEnvironment?: boolean;
}

export async function startTestS3(options: TestS3Options = {}): Promise<TestS3> {
  const directory = mkdtempSync(join(tmpdir(), 'rb-s3-'));
  const s3rver = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true });
  const { port: s3rverPort } = await s3rver.run();
  const faults: Array<S3Fault & { left: number }> = [];
  const requests: RecordedS3Request[] = [];

  const uploadsDir = (bucket: string) => join(directory, bucket, '._S3rver_uploads');

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'InternalError', String(error));
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const [, bucket = '', ...keyParts] = url.pathname.split('/');
    const key = decodeURIComponent(keyParts.join('/'));
    const operation = classify(req, url, key);
    const partNumber = url.searchParams.has('partNumber') ? Number(url.searchParams.get('partNumber')) : undefined;
    const record = (status: number) =>
      requests.push({ operation, method: req.method ?? '', key, ...(partNumber ? { partNumber } : {}), status });

    const fault = faults.find(
      (f) => f.left > 0 && f.operation === operation && (f.partNumber === undefined || f.partNumber === partNumber),
    );
    if (fault) {
      fault.left -= 1;
      await drain(req);
      const status = fault.status ?? 500;
      record(status);
      sendError(
        res,
        status,
        fault.code ?? 'InternalError',
        fault.message ?? 'We encountered an internal error. Please try again.',
      );
      return;
    }

    if (operation === 'AbortMultipartUpload') {
      await drain(req);
      const dir = join(uploadsDir(bucket), url.searchParams.get('uploadId') ?? '');
      if (!existsSync(dir)) {
        record(404);
        sendError(res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
        return;
      }
      rmSync(dir, { recursive: true, force: true });
      record(204);
      res.writeHead(204).end();
      return;
    }

    if (operation === 'UploadPartCopy') {
      await drain(req);
      const dir = join(uploadsDir(bucket), url.searchParams.get('uploadId') ?? '');
      const source = decodeURIComponent(String(req.headers['x-amz-copy-source']).replace(/^\//, ''));
      const [sourceBucket = '', ...sourceKey] = source.split('/');
      const bytes = readFileSync(join(directory, sourceBucket, `${sourceKey.join('/')}._S3rver_object`));
      const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers['x-amz-copy-source-range'] ?? ''));
      const part = range ? bytes.subarray(Number(range[1]), Number(range[2]) + 1) : bytes;
      const md5 = createHash('md5').update(part).digest('hex');
      writeFileSync(join(dir, String(partNumber)), part);
      writeFileSync(join(dir, `${partNumber}.md5`), md5);
      record(200);
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><CopyPartResult><ETag>"${md5}"</ETag><LastModified>${new Date().toISOString()}</LastModified></CopyPartResult>`,
      );
      return;
    }

    const headers = { ...req.headers };
    delete headers.expect;
    const upstream = httpRequest({ host: '127.0.0.1', port: s3rverPort, method: req.method, path: req.url, headers });
    upstream.on('response', (answer) => {
      record(answer.statusCode ?? 0);
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (error) => {
      if (!res.headersSent) sendError(res, 502, 'BadGateway', error.message);
      else res.destroy();
    });
    req.pipe(upstream);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${s3rverPort}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });

  if (options.setAwsEnvironment) {
    process.env.AWS_ACCESS_KEY_ID = ACCESS_KEY;
    process.env.AWS_SECRET_ACCESS_KEY = SECRET_KEY;
  }
  for (const bucket of options.buckets ?? []) await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    endpoint,
    directEndpoint: `http://127.0.0.1:${s3rverPort}`,
    accessKeyId: ACCESS_KEY,
    secretAccessKey: SECRET_KEY,
    client,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async keys(bucket, prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        keys.push(...(page.Contents ?? []).map((object) => object.Key!));
        token = page.NextContinuationToken;
      } while (token);
      return keys.sort();
    },
    pendingUploads(bucket) {
      const dir = uploadsDir(bucket);
      if (!existsSync(dir)) return [];
      return readdirSync(dir).map((uploadId) => ({
        uploadId,
        key: existsSync(join(dir, uploadId, 'key')) ? readFileSync(join(dir, uploadId, 'key'), 'utf8') : '',
      }));
    },
    discardPendingUploads(bucket) {
      rmSync(uploadsDir(bucket), { recursive: true, force: true });
    },
    fail(fault) {
      faults.push({ ...fault, left: fault.times ?? Number.POSITIVE_INFINITY });
    },
    clearFaults() {
      faults.length = 0;
    },
    requests,
    async close() {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await s3rver.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

function classify(req: IncomingMessage, url: URL, key: string): S3Operation {
  const query = url.searchParams;
  const copy = 'x-amz-copy-source' in req.headers;
  switch (req.method) {
    case 'POST':
      if (query.has('uploads')) return 'CreateMultipartUpload';
      if (query.has('uploadId')) return 'CompleteMultipartUpload';
      return 'Other';
    case 'PUT':
      if (query.has('uploadId')) return copy ? 'UploadPartCopy' : 'UploadPart';
      if (!key) return 'CreateBucket';
      return copy ? 'CopyObject' : 'PutObject';
    case 'DELETE':
      return query.has('uploadId') ? 'AbortMultipartUpload' : key ? 'DeleteObject' : 'Other';
    case 'HEAD':
      return key ? 'HeadObject' : 'Other';
    case 'GET':
      return key ? 'GetObject' : 'ListObjects';
    default:
      return 'Other';
  }
}

function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    req.on('end', resolve);
    req.on('error', () => resolve());
    req.resume();
  });
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}
