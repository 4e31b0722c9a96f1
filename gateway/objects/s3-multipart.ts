// One S3 multipart upload: parts go up in the background, at most `concurrency` at a time;
// abort() drops whatever was uploaded so a failed upload leaves nothing behind (and costs nothing).

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from "@aws-sdk/client-s3";
import { StrataError } from "../../core/errors.ts";

/** S3's limit on parts per upload. */
export const MAX_PARTS = 10_000;

/** What an upload needs from its store: the client, the bucket, and the store's limited, error-mapping call path. */
export interface S3Context {
  readonly client: S3Client;
  readonly bucket: string;
  /** `call` gets the signal that aborts it once the store's request timeout is up. */
  send<T>(op: string, key: string, call: (abortSignal: AbortSignal) => Promise<T>): Promise<T>;
}

export class MultipartUpload {
  private uploadId: string | undefined;
  private readonly parts: CompletedPart[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private partCount = 0;
  private failure: unknown;
  private failed = false;
  private readonly s3: S3Context;
  private readonly key: string;
  private readonly fullKey: string;
  private readonly concurrency: number;

  constructor(s3: S3Context, key: string, fullKey: string, concurrency: number) {
    this.s3 = s3;
    this.key = key;
    this.fullKey = fullKey;
    this.concurrency = concurrency;
  }

  get started(): boolean {
    return this.uploadId !== undefined;
  }

  async add(body: Uint8Array): Promise<void> {
    this.throwIfFailed();
    if (this.uploadId === undefined) {
      const res = await this.s3.send("put_multipart", this.key, (abortSignal) =>
        this.s3.client.send(new CreateMultipartUploadCommand({ Bucket: this.s3.bucket, Key: this.fullKey }), { abortSignal }),
      );
      if (!res.UploadId) throw new StrataError("STORAGE_ERROR", `CreateMultipartUpload for ${this.key} returned no UploadId`);
      this.uploadId = res.UploadId;
    }
    const partNumber = ++this.partCount;
    if (partNumber > MAX_PARTS) throw new StrataError("PAYLOAD_TOO_LARGE", `${this.key}: more than ${MAX_PARTS} parts; use a larger partSize`);
    const uploadId = this.uploadId;
    const p: Promise<void> = this.s3
      .send("put_multipart", this.key, (abortSignal) =>
        this.s3.client.send(
          new UploadPartCommand({
            Bucket: this.s3.bucket,
            Key: this.fullKey,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: body,
            ContentLength: body.length,
          }),
          { abortSignal },
        ),
      )
      .then((res) => {
        this.parts.push({ PartNumber: partNumber, ETag: res.ETag });
      })
      .catch((e: unknown) => {
        if (!this.failed) this.failure = e;
        this.failed = true;
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
    while (this.inFlight.size >= this.concurrency) await Promise.race(this.inFlight);
    this.throwIfFailed();
  }

  async complete(): Promise<void> {
    await Promise.all(this.inFlight);
    this.throwIfFailed();
    const parts = [...this.parts].sort((a, b) => a.PartNumber! - b.PartNumber!);
    await this.s3.send("put_multipart", this.key, (abortSignal) =>
      this.s3.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.s3.bucket,
          Key: this.fullKey,
          UploadId: this.uploadId,
          MultipartUpload: { Parts: parts },
        }),
        { abortSignal },
      ),
    );
    this.uploadId = undefined;
  }

  /** Best effort: wait for parts in flight, then drop the upload so its parts stop costing storage. */
  async abort(): Promise<void> {
    await Promise.allSettled(this.inFlight);
    const uploadId = this.uploadId;
    if (uploadId === undefined) return;
    this.uploadId = undefined;
    await this.s3
      .send("abort_multipart", this.key, (abortSignal) =>
        this.s3.client.send(new AbortMultipartUploadCommand({ Bucket: this.s3.bucket, Key: this.fullKey, UploadId: uploadId }), { abortSignal }),
      )
      .catch(() => {});
  }

  private throwIfFailed(): void {
    if (this.failed) throw this.failure;
  }
}
