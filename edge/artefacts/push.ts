// pushArtefact: chunk and hash a file as it is read, ask the gateway which chunks it lacks
// (batched, while reading goes on), upload only those (parallel batches, bounded in count and
// bytes in flight, read back from the file when their turn comes), store the manifest, then
// publish one record whose field `artefact` holds the ArtefactRef (and `file_name` the name to
// restore it under, when given). An interrupted push resumes by running it again: the gateway
// answers that the chunks it got are no longer missing.
import { closeSync, openSync } from "node:fs";
import { StrataError } from "../../core/errors.ts";
import { makeArtefactRef } from "../../core/log/extensions.ts";
import { fromJsonValue } from "../../core/log/json-value.ts";
import { bytesToHex, hexToBytes } from "../../core/util/hex.ts";
import { encodeManifest, type Manifest, type ManifestChunk, manifestId, manifestTensorIndex } from "../../core/artefacts/manifest.ts";
import { assertStreamName } from "../../core/log/stream-name.ts";
import { ARTEFACT_FIELD, FILE_NAME_FIELD, isPlainFileName } from "./artefact-field.ts";
import { MissingChunksError, missingChunks, putChunks, putManifest } from "./artefact-api.ts";
import { batches } from "./chunk-plan.ts";
import { chunkFile, type FileChunk, readExactly } from "./file-chunks.ts";
import { GatewayHttp } from "./gateway-http.ts";
import { resolveLimits, TRANSFER_BURST_SECONDS, type TransferLimits } from "./transfer-limits.ts";
import { type ProgressListener, ProgressTracker, type TransferSummary } from "./progress.ts";
import { ensureStream, publishArtefactRecord, type RecordPosition, streamPartitions } from "./stream-api.ts";
import { versionByRef } from "./version-select.ts";
import { tokenBucket } from "../../core/util/token-bucket.ts";
import { TransferPool } from "./transfer-pool.ts";

export { ARTEFACT_FIELD, FILE_NAME_FIELD };
export const SAFETENSORS_MEDIA_TYPE = "application/safetensors";
export const DEFAULT_MEDIA_TYPE = "application/octet-stream";
/** Rounds of "manifest PUT → 409 MISSING_CHUNKS → upload them" before giving up. */
const MANIFEST_ROUNDS = 5;

export interface PushOptions {
  /** Gateway base URL, e.g. http://127.0.0.1:7070. */
  readonly gateway: string;
  /** A token allowed to publish on `stream` (sent as `Authorization: Bearer`); none for a gateway without --auth. */
  readonly token?: string;
  /** PEM of a CA to trust for an https:// gateway with its own certificate. */
  readonly ca?: string;
  readonly file: string;
  readonly stream: string;
  /** More fields of the record, as JSON values (bytes as {"$base64": ...}, see core/log/json-value.ts). */
  readonly fields?: Readonly<Record<string, unknown>>;
  /**
   * The file name a pull into a directory restores (`strata push` gives the file's base name),
   * stored in the record's field `file_name`; one path component.
   */
  readonly fileName?: string;
  /** Default: application/safetensors for a safetensors file, else application/octet-stream. */
  readonly mediaType?: string;
  /** Force safetensors chunking on or off; detected when absent. */
  readonly safetensors?: boolean;
  /** Create the stream when it does not exist (the auto-creation rule of stream-api.ts). Default true. */
  readonly createStream?: boolean;
  /**
   * Publish a new version even when the stream's latest version is this same artefact (same
   * content, chunking and media type). Default false: nothing is published and the summary names
   * the existing version (`published: false`).
   */
  readonly force?: boolean;
  /** Uploads in flight (default 4). */
  readonly concurrency?: number;
  readonly limits?: Partial<TransferLimits>;
  readonly onProgress?: ProgressListener;
}

export interface PushSummary extends TransferSummary {
  readonly stream: string;
  readonly mediaType: string;
  /** Where the record carrying the ArtefactRef landed (the existing version's when `published` is false). */
  readonly record: RecordPosition;
  /** False when the latest version already was this artefact and `force` was not given. */
  readonly published: boolean;
}

/** The stream's latest version when it is artefact `id`, else undefined (no versions, or another one). */
async function latestIfSame(http: GatewayHttp, stream: string, id: string): Promise<RecordPosition | undefined> {
  try {
    const latest = await versionByRef(http, stream, "latest");
    return latest.ref.manifest === id ? { partition: latest.partition, offset: latest.offset } : undefined;
  } catch (e) {
    if (e instanceof StrataError && (e.code === "NOT_FOUND" || e.code === "STREAM_NOT_FOUND")) return undefined;
    throw e;
  }
}

interface Located {
  readonly offset: number;
  readonly length: number;
}

export async function pushArtefact(options: PushOptions): Promise<PushSummary> {
  const started = performance.now();
  const stream = assertStreamName(options.stream);
  const limits = resolveLimits({ ...options.limits, ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}) });
  const fields = options.fields ?? {};
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) throw new StrataError("BAD_REQUEST", "fields must be an object");
  if (Object.hasOwn(fields, ARTEFACT_FIELD)) throw new StrataError("BAD_REQUEST", `fields must not contain '${ARTEFACT_FIELD}': it carries the artefact`);
  if (options.fileName !== undefined && !isPlainFileName(options.fileName)) throw new StrataError("BAD_REQUEST", `fileName must be one path component, got ${JSON.stringify(options.fileName)}`);
  fromJsonValue(fields); // malformed tagged values fail here, before any upload
  const http = new GatewayHttp(options.gateway, { ...limits, ...(options.token !== undefined ? { token: options.token } : {}), ...(options.ca !== undefined ? { ca: options.ca } : {}) });
  const progress = new ProgressTracker(options.onProgress);

  const fd = openSync(options.file, "r"); // a missing file fails before the gateway is asked anything
  const pool = new TransferPool(limits.concurrency, limits.maxBytesInFlight);
  const rate = tokenBucket(limits.maxBytesPerSecond, TRANSFER_BURST_SECONDS);
  try {
    if (options.createStream === false) await streamPartitions(http, stream);
    else await ensureStream(http, stream);

    const upload = async (batch: readonly FileChunk[], signal: AbortSignal): Promise<void> => {
      await rate?.take(batch.reduce((n, c) => n + c.length, 0), signal);
      const pairs = batch.map((c) => [c.hash, readExactly(fd, c.offset, c.length, options.file)] as const);
      await putChunks(http, pairs, signal);
      for (const c of batch) progress.bytesTransferred += c.length;
      progress.chunksTransferred += batch.length;
      progress.emit();
    };
    const submitUploads = async (chunks: readonly FileChunk[]): Promise<void> => {
      for (const batch of batches(chunks, limits.batchChunks, limits.batchBytes)) {
        await pool.submit(
          batch.reduce((n, c) => n + c.length, 0),
          (signal) => upload(batch, signal),
        );
      }
    };

    const file = chunkFile(fd, options.file, {
      readBytes: limits.readBytes,
      ...(options.safetensors !== undefined ? { safetensors: options.safetensors } : {}),
      onRead: (n) => {
        progress.bytesDone += n;
        progress.emit();
      },
    });
    progress.bytesTotal = file.size;
    progress.set("scanning");

    const all: ManifestChunk[] = [];
    const located = new Map<string, Located>();
    let pending: FileChunk[] = [];
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return;
      const asked = pending;
      pending = [];
      const missing = await missingChunks(http, asked.map((c) => c.hash), pool.signal);
      const byHash = new Map(asked.map((c) => [bytesToHex(c.hash), c]));
      const uploads = missing.map((h) => byHash.get(bytesToHex(h))!);
      progress.bytesToTransfer += uploads.reduce((n, c) => n + c.length, 0);
      progress.emit();
      await submitUploads(uploads);
    };
    for await (const chunks of file.chunks) {
      for (const c of chunks) {
        all.push({ hash: c.hash, length: c.length });
        const hex = bytesToHex(c.hash);
        if (located.has(hex)) continue; // repeated in the file: asked about once
        located.set(hex, { offset: c.offset, length: c.length });
        pending.push(c);
      }
      if (pending.length >= limits.missingBatchHashes) await flush();
    }
    await flush();
    progress.set("uploading");
    await pool.drain();

    const mediaType = options.mediaType ?? (file.safetensors ? SAFETENSORS_MEDIA_TYPE : DEFAULT_MEDIA_TYPE);
    const manifest: Manifest = {
      v: 1,
      size: file.size,
      mediaType,
      chunks: all,
      ...(file.safetensors ? { tensors: manifestTensorIndex(file.safetensors) } : {}),
    };
    const bytes = encodeManifest(manifest);
    const id = manifestId(bytes);
    progress.set("publishing");
    for (let round = 1; ; round++) {
      try {
        await putManifest(http, id, bytes);
        break;
      } catch (e) {
        // Chunks the gateway lost since it reported them present (GC after a long pause): send them again.
        if (!(e instanceof MissingChunksError) || round === MANIFEST_ROUNDS) throw e;
        const again: FileChunk[] = [];
        for (const hex of e.missing) {
          const at = located.get(hex);
          if (!at) throw new StrataError("CORRUPT_DATA", `gateway reports chunk ${hex} missing, which is not in this artefact`);
          again.push({ hash: hexToBytes(hex), offset: at.offset, length: at.length });
          progress.bytesToTransfer += at.length;
        }
        const retry = new TransferPool(limits.concurrency, limits.maxBytesInFlight);
        for (const batch of batches(again, limits.batchChunks, limits.batchBytes)) await retry.submit(batch.reduce((n, c) => n + c.length, 0), (signal) => upload(batch, signal));
        await retry.drain();
      }
    }
    const ref = makeArtefactRef(id, file.size, mediaType);
    const named = options.fileName === undefined ? fields : { ...fields, [FILE_NAME_FIELD]: options.fileName };
    const existing = options.force ? undefined : await latestIfSame(http, stream, id);
    const record = existing ?? (await publishArtefactRecord(http, stream, ARTEFACT_FIELD, ref, named));
    progress.set("done");
    return {
      artefact: id,
      bytesTotal: file.size,
      bytesTransferred: progress.bytesTransferred,
      chunksTotal: all.length,
      chunksTransferred: progress.chunksTransferred,
      seconds: (performance.now() - started) / 1000,
      stream,
      mediaType,
      record,
      published: existing === undefined,
    };
  } finally {
    // Uploads still running after a failure read from fd: let them settle before closing it.
    await pool.drain().catch(() => undefined);
    closeSync(fd);
  }
}
