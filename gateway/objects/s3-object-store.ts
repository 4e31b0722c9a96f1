// ObjectStore on any S3-compatible endpoint (AWS S3, Ceph radosgw, MinIO, R2) via @aws-sdk/client-s3.
//
// - Credentials come from the SDK's default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
//   AWS_SESSION_TOKEN, profiles, …) unless given; region from options, AWS_REGION,
//   AWS_DEFAULT_REGION, else us-east-1.
// - Checksums only WHEN_REQUIRED: radosgw rejects the SDK's default chunked-checksum uploads
//   (411 MissingContentLength), and every body we send has a known length anyway.
// - Every call is bounded by requestTimeoutMs (default 10 s, s3-timeouts.ts), its retries
//   included: a frozen or unreachable store fails the call with STORAGE_ERROR within it.
// - Every request goes through one semaphore (maxConcurrency) over a keep-alive agent whose
//   socket pool is at least as large, so requests never queue inside the agent unseen.
// - A multipart upload buffers at most (partConcurrency + 1) parts, is aborted on any failure,
//   and is read back with HEAD for its ETag (radosgw answers CompleteMultipartUpload with an
//   empty one). A body that fits in one part is a single PutObject.
// - putFile streams a local file: one PutObject up to the part size, else a multipart upload
//   read from the file part by part.

import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { z } from "zod";
import { StrataError, isStrataError } from "../../core/errors.ts";
import { Semaphore, mapLimit } from "../../core/util/concurrency.ts";
import { validateObjectKey, validateObjectPrefix } from "./object-key.ts";
import { checkRangeWithin, validateRange } from "./object-range.ts";
import { putFileInParts } from "./object-file.ts";
import { mapS3Error, sdkName } from "./s3-errors.ts";
import { MultipartUpload, type S3Context } from "./s3-multipart.ts";
import { DEFAULT_S3_CONNECT_TIMEOUT_MS, DEFAULT_S3_MAX_ATTEMPTS, DEFAULT_S3_REQUEST_TIMEOUT_MS, s3TimeoutsShape, type S3Timeouts } from "./s3-timeouts.ts";
import type { ByteRange, MultipartOptions, ObjectInfo, ObjectStore, PutOptions } from "./object-store.ts";

const MiB = 1024 * 1024;
/** S3's minimum size for every part but the last. */
export const MIN_PART_SIZE = 5 * MiB;
const DELETE_BATCH = 1000;
const CONDITIONAL_PUT_ATTEMPTS = 4;

export interface S3ObjectStoreOptions extends S3Timeouts {
  bucket: string;
  /** e.g. "http://127.0.0.1:7480"; omit for AWS S3. */
  endpoint?: string;
  region?: string;
  /** Key prefix inside the bucket ("" or "a/b", stored as "a/b/"). */
  prefix?: string;
  /** Path-style URLs (http://host/bucket/key); needed by most self-hosted stores. */
  forcePathStyle?: boolean;
  /** Explicit credentials; default: the SDK's chain (AWS_* environment variables first). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Create the bucket when it does not exist (default true). */
  createBucket?: boolean;
  /** Requests in flight at once, across all operations (default 64). */
  maxConcurrency?: number;
  /** Parts of one multipart upload in flight at once (default 4). */
  partConcurrency?: number;
  /** Default multipart part size (default 8 MiB, at least 5 MiB). */
  partSize?: number;
}

export class S3ObjectStore implements ObjectStore {
  readonly description: string;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly limit: Semaphore;
  private readonly partConcurrency: number;
  private readonly partSize: number;
  private closed = false;
  private readonly context: S3Context;
  /** Bound of one call, its retries included (S3Timeouts.requestTimeoutMs). */
  private readonly requestTimeoutMs: number;

  private constructor(opts: S3ObjectStoreOptions) {
    if (!opts.bucket) throw new StrataError("BAD_REQUEST", "S3 bucket name is required");
    const prefix = (opts.prefix ?? "").replace(/\/+$/, "");
    if (prefix) validateObjectPrefix(prefix);
    this.bucket = opts.bucket;
    this.prefix = prefix ? `${prefix}/` : "";
    const timeouts = parseTimeouts(opts);
    this.requestTimeoutMs = timeouts.requestTimeoutMs ?? DEFAULT_S3_REQUEST_TIMEOUT_MS;
    const maxConcurrency = opts.maxConcurrency ?? 64;
    this.limit = new Semaphore(maxConcurrency);
    this.partConcurrency = opts.partConcurrency ?? 4;
    this.partSize = Math.max(MIN_PART_SIZE, opts.partSize ?? 8 * MiB);
    const region = opts.region ?? env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") ?? "us-east-1";
    const agent = { keepAlive: true, keepAliveMsecs: 1000, maxSockets: maxConcurrency, maxFreeSockets: maxConcurrency };
    this.client = new S3Client({
      region,
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      forcePathStyle: opts.forcePathStyle ?? false,
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: timeouts.maxAttempts ?? DEFAULT_S3_MAX_ATTEMPTS,
      requestHandler: {
        connectionTimeout: timeouts.connectTimeoutMs ?? DEFAULT_S3_CONNECT_TIMEOUT_MS,
        requestTimeout: this.requestTimeoutMs,
        throwOnRequestTimeout: true,
        httpAgent: agent,
        httpsAgent: agent,
      },
    });
    this.description = `s3://${this.bucket}/${this.prefix} at ${opts.endpoint ?? `AWS ${region}`}`;
    this.context = { client: this.client, bucket: this.bucket, send: (op, key, call) => this.send(op, key, call) };
  }

  /** Connect, and create the bucket if it is missing (unless createBucket is false). */
  static async open(opts: S3ObjectStoreOptions): Promise<S3ObjectStore> {
    const store = new S3ObjectStore(opts);
    try {
      await store.ensureBucket(opts.createBucket ?? true);
    } catch (e) {
      await store.close();
      throw e;
    }
    return store;
  }

  async putFile(key: string, path: string, opts?: MultipartOptions): Promise<ObjectInfo> {
    validateObjectKey(key);
    if (opts?.partSize !== undefined && (!Number.isSafeInteger(opts.partSize) || opts.partSize < 1)) {
      throw new StrataError("BAD_REQUEST", `bad partSize ${opts.partSize}`);
    }
    return putFileInParts(this, key, path, opts?.partSize === undefined ? this.partSize : Math.max(MIN_PART_SIZE, opts.partSize));
  }

  async put(key: string, body: Uint8Array, opts?: PutOptions): Promise<ObjectInfo> {
    const full = this.fullKey(key);
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: full,
      Body: body,
      ContentLength: body.length,
      ...(opts?.ifNoneMatch ? { IfNoneMatch: "*" } : {}),
    });
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.send("put", key, (abortSignal) => this.client.send(command, { abortSignal }));
        return { key, size: body.length, etag: unquote(res.ETag) };
      } catch (e) {
        // AWS answers 409 ConditionalRequestConflict to a conditional write racing another
        // write of the key and asks for a retry, which then settles as success or 412.
        const conflict = isStrataError(e) && sdkName(e.cause) === "ConditionalRequestConflict";
        if (!conflict || attempt >= CONDITIONAL_PUT_ATTEMPTS) throw e;
      }
    }
  }

  async putMultipart(key: string, parts: AsyncIterable<Uint8Array>, opts?: MultipartOptions): Promise<ObjectInfo> {
    const full = this.fullKey(key);
    if (opts?.partSize !== undefined && (!Number.isSafeInteger(opts.partSize) || opts.partSize < 1)) {
      throw new StrataError("BAD_REQUEST", `bad partSize ${opts.partSize}`);
    }
    const partSize = opts?.partSize === undefined ? this.partSize : Math.max(MIN_PART_SIZE, opts.partSize);
    const upload = new MultipartUpload(this.context, key, full, this.partConcurrency);
    let buf = new Uint8Array(partSize);
    let fill = 0;
    try {
      for await (const chunk of parts) {
        let off = 0;
        while (off < chunk.length) {
          // Flush a full buffer only once more bytes arrive, so a body of exactly one part stays a PutObject.
          if (fill === partSize) {
            await upload.add(buf);
            buf = new Uint8Array(partSize);
            fill = 0;
          }
          const n = Math.min(partSize - fill, chunk.length - off);
          buf.set(chunk.subarray(off, off + n), fill);
          fill += n;
          off += n;
        }
      }
      if (!upload.started) return await this.put(key, buf.subarray(0, fill));
      await upload.add(buf.subarray(0, fill));
      await upload.complete();
    } catch (e) {
      await upload.abort();
      throw e;
    }
    // radosgw answers CompleteMultipartUpload with an empty ETag: read the real one back.
    const head = await this.head(key);
    if (!head) throw new StrataError("STORAGE_ERROR", `multipart upload of ${key} completed but the object is missing`);
    return head;
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array> {
    const full = this.fullKey(key);
    if (range) {
      validateRange(key, range);
      if (range.length === 0) {
        // An empty range has no HTTP form ("bytes=5-4" is invalid): check bounds with HEAD.
        const head = await this.head(key);
        if (!head) throw notFound(key);
        checkRangeWithin(key, range, head.size);
        return new Uint8Array(0);
      }
    }
    const header = range ? `bytes=${range.offset}-${range.offset + range.length - 1}` : undefined;
    return this.send("get", key, async (abortSignal) => {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: full, ...(header ? { Range: header } : {}) }),
        { abortSignal },
      );
      if (!res.Body) throw new StrataError("STORAGE_ERROR", `GET ${key} returned no body`);
      const bytes = await res.Body.transformToByteArray();
      if (range && bytes.length !== range.length) {
        // S3 clamps a range that runs past the end instead of failing it.
        checkRangeWithin(key, range, totalFromContentRange(res.ContentRange) ?? range.offset + bytes.length);
        throw new StrataError("STORAGE_ERROR", `GET ${key} ${header} returned ${bytes.length} bytes`);
      }
      return bytes;
    }, range);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const full = this.fullKey(key);
    try {
      const res = await this.send("head", key, (abortSignal) =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: full }), { abortSignal }),
      );
      return { key, size: res.ContentLength ?? 0, etag: unquote(res.ETag) };
    } catch (e) {
      if (isStrataError(e) && e.code === "NOT_FOUND") return undefined;
      throw e;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    validateObjectPrefix(prefix);
    let token: string | undefined;
    do {
      const res = await this.send("list", prefix, (abortSignal) =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            MaxKeys: 1000,
            ...(token ? { ContinuationToken: token } : {}),
          }),
          { abortSignal },
        ),
      );
      for (const o of res.Contents ?? []) {
        if (o.Key === undefined || !o.Key.startsWith(this.prefix)) continue;
        yield { key: o.Key.slice(this.prefix.length), size: o.Size ?? 0, etag: unquote(o.ETag) };
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    const full = this.fullKey(key);
    try {
      await this.send("delete", key, (abortSignal) => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: full }), { abortSignal }));
    } catch (e) {
      if (isStrataError(e) && e.code === "NOT_FOUND") return;
      throw e;
    }
  }

  async deleteMany(keys: string[]): Promise<void> {
    const full = keys.map((k) => this.fullKey(k)); // validate all before deleting any
    const batches: string[][] = [];
    for (let i = 0; i < full.length; i += DELETE_BATCH) batches.push(full.slice(i, i + DELETE_BATCH));
    await mapLimit(batches, 4, async (batch) => {
      const res = await this.send("delete_many", batch[0]!, (abortSignal) =>
        this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
          { abortSignal },
        ),
      );
      const failed = (res.Errors ?? []).filter((err) => err.Code !== "NoSuchKey");
      if (failed.length > 0) {
        const first = failed[0]!;
        throw new StrataError(
          "STORAGE_ERROR",
          `delete of ${failed.length} objects failed, first ${first.Key}: ${first.Code} ${first.Message ?? ""}`.trim(),
        );
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
  }

  /**
   * Runs one SDK call under the concurrency limit, mapping its errors. The call (its attempts
   * and the reading of its body) is aborted after requestTimeoutMs: a store that stops
   * answering fails the call with STORAGE_ERROR instead of holding it until the socket dies.
   */
  private async send<T>(op: string, key: string, call: (abortSignal: AbortSignal) => Promise<T>, range?: ByteRange): Promise<T> {
    if (this.closed) throw new StrataError("UNAVAILABLE", `object store ${this.description} is closed`);
    return this.limit.run(async () => {
      const abortSignal = AbortSignal.timeout(this.requestTimeoutMs);
      try {
        return await call(abortSignal);
      } catch (e) {
        if (abortSignal.aborted && !isStrataError(e)) {
          throw new StrataError("STORAGE_ERROR", `object store ${op} ${key}: no answer from ${this.description} within ${this.requestTimeoutMs} ms`, { cause: e });
        }
        throw mapS3Error(op, key, e, range);
      }
    });
  }

  private fullKey(key: string): string {
    validateObjectKey(key);
    return this.prefix + key;
  }

  private async ensureBucket(create: boolean): Promise<void> {
    try {
      await this.send("head_bucket", this.bucket, (abortSignal) => this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal }));
      return;
    } catch (e) {
      if (!(isStrataError(e) && e.code === "NOT_FOUND")) throw e;
      if (!create) throw new StrataError("STORAGE_ERROR", `bucket ${this.bucket} does not exist (${this.description})`, { cause: e });
    }
    // The SDK sends the client's region as LocationConstraint (AWS wants it outside us-east-1);
    // radosgw rejects any name but its zonegroup's (InvalidLocationConstraint): retry with none.
    for (const withConstraint of [true, false]) {
      const command = new CreateBucketCommand({ Bucket: this.bucket });
      if (!withConstraint) {
        command.middlewareStack.add(
          (next) => (args) => {
            delete (args.input as { CreateBucketConfiguration?: unknown }).CreateBucketConfiguration;
            return next(args);
          },
          { step: "serialize", priority: "high", name: "strataNoLocationConstraint" },
        );
      }
      try {
        await this.send("create_bucket", this.bucket, (abortSignal) => this.client.send(command, { abortSignal }));
        return;
      } catch (e) {
        const name = isStrataError(e) ? sdkName(e.cause) : undefined;
        // Another process created it first: fine.
        if (name === "BucketAlreadyOwnedByYou") return;
        if (name === "InvalidLocationConstraint" && withConstraint) continue;
        throw e;
      }
    }
  }
}

const timeoutsSchema = z.object(s3TimeoutsShape);

/** The timeout options, checked against their ranges (BAD_REQUEST naming the bad one). */
function parseTimeouts(opts: S3Timeouts): S3Timeouts {
  const parsed = timeoutsSchema.safeParse({ requestTimeoutMs: opts.requestTimeoutMs, connectTimeoutMs: opts.connectTimeoutMs, maxAttempts: opts.maxAttempts });
  if (!parsed.success) throw new StrataError("BAD_REQUEST", `S3 options: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return parsed.data;
}

/** "bytes 0-9/1234" → 1234 */
function totalFromContentRange(header: string | undefined): number | undefined {
  const m = header ? /\/(\d+)$/.exec(header) : null;
  return m ? Number(m[1]) : undefined;
}

function unquote(etag: string | undefined): string {
  return (etag ?? "").replace(/^"|"$/g, "");
}

function env(name: string): string | undefined {
  const value = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  return value ? value : undefined;
}

function notFound(key: string): StrataError {
  return new StrataError("NOT_FOUND", `object ${key} not found`);
}
