// pullArtefact: resolve the artefact (the latest ArtefactRef on a stream, or an id), fetch and
// verify its manifest, copy the chunks the local chunk cache holds (verified once, when they
// arrived or on a first read; one that fails is dropped and fetched), download the rest from the chunk source (HTTP
// /v1/chunks/get by default, or any ChunkSource such as the edge's QUIC transport; parallel
// batches, each chunk verified, stored in the cache), all written at their offsets into a
// temporary file beside OUT that is fsynced and renamed into place. An interrupted pull resumes
// by running it again: the chunks it received are in the cache. OUT may be a directory: the
// artefact then lands under the file name push recorded (else its id).
import { StrataError } from "../../core/errors.ts";
import { ChunkCache } from "./chunk-cache.ts";
import { batches, type PlannedChunk, plannedChunks } from "./chunk-plan.ts";
import { type ByteRate, type ChunkSource, httpChunkSource } from "./chunk-source.ts";
import { TruncatedBodyError } from "./verified-frames.ts";
import { type ChunkHasher, inlineHasher, workerHasher } from "./chunk-hasher.ts";
import { GatewayHttp } from "./gateway-http.ts";
import { DEFAULT_CACHE_MAX_BYTES, resolveLimits, TRANSFER_BURST_SECONDS, type TransferLimits } from "./transfer-limits.ts";
import { OutputFile, outputPath } from "./output-file.ts";
import { type ProgressListener, ProgressTracker, type TransferSummary } from "./progress.ts";
import { ARTEFACT_FIELD } from "./push.ts";
import type { LocatedArtefact } from "./stream-api.ts";
import { tokenBucket } from "../../core/util/token-bucket.ts";
import { pullTensorSubset } from "./tensor-selection.ts";
import { TransferPool } from "./transfer-pool.ts";

const ARTEFACT_ID = /^[0-9a-f]{64}$/;
/** Disk operations (a chunk's cache read or write plus its output writes) in flight at once. */
const DISK_CONCURRENCY = 16;

export interface PullOptions {
  /** The gateway's HTTP base URL; ignored when `chunkSource` is given. */
  readonly gateway?: string;
  /** A token allowed to consume the stream (sent as `Authorization: Bearer`); ignored when `chunkSource` is given. */
  readonly token?: string;
  /** PEM of a CA to trust for an https:// gateway with its own certificate; ignored when `chunkSource` is given. */
  readonly ca?: string;
  /** Where manifests and chunks come from (default: HTTP to `gateway`). */
  readonly chunkSource?: ChunkSource;
  /** A shared pace for downloaded chunk bytes (e.g. the edge node's one token bucket); overrides limits.maxBytesPerSecond. */
  readonly rate?: ByteRate;
  /** Aborts the pull: downloads stop, the temporary file is removed, OUT is left as it was. */
  readonly signal?: AbortSignal;
  /** A stream name (its latest artefact) or an artefact id (64 lowercase hex characters). */
  readonly source: string;
  /**
   * The file to write (its directory must exist), or a directory (an existing one, or a path
   * ending in "/"): then the file in it named as the record's `file_name` (what push stored), or
   * the artefact id when the record has none or the source is an id.
   */
  readonly out: string;
  /** Directory of the local chunk cache. */
  readonly cacheDir: string;
  /** Bound of the chunk cache in bytes (default 8 GiB); least recently used chunks are evicted. */
  readonly cacheMaxBytes?: number;
  /** Downloads in flight (default 4). */
  readonly concurrency?: number;
  readonly limits?: Partial<TransferLimits>;
  readonly onProgress?: ProgressListener;
  /**
   * Hash chunks received over HTTP on a Worker (default false). Measured on 2 loaded cores it was
   * slower than hashing inline (the copy and postMessage per chunk cost more than the hash, and
   * the gateway holds the second core); worth it where a core is idle.
   */
  readonly hashOnWorker?: boolean;
  /** Tensor name globs: write a safetensors file of only the matching tensors, fetching only their chunks (tensor-selection.ts). */
  readonly tensors?: readonly string[];
}

export interface PullSummary extends TransferSummary {
  /** The file written (OUT, or the file inside the directory OUT). */
  readonly out: string;
  readonly mediaType: string;
  /** Set when the artefact was found on a stream. */
  readonly record: LocatedArtefact | null;
  /** Chunks found in the cache but corrupt (deleted and downloaded again). */
  readonly chunksCorrupt: number;
}

export async function pullArtefact(options: PullOptions): Promise<PullSummary> {
  // A given chunkSource verifies its own chunks; HTTP ones hash here or, asked to, on a worker.
  const hasher = options.chunkSource === undefined && options.hashOnWorker === true ? workerHasher() : inlineHasher;
  try {
    return await pullWith(options, hasher);
  } finally {
    hasher.close();
  }
}

async function pullWith(options: PullOptions, hasher: ChunkHasher): Promise<PullSummary> {
  const started = performance.now();
  const limits = resolveLimits({ ...options.limits, ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}) });
  const source = sourceOf(options, limits, hasher);
  const signal = options.signal;
  signal?.throwIfAborted();
  const progress = new ProgressTracker(options.onProgress);
  progress.set("resolving");

  let record: LocatedArtefact | null = null;
  let id = options.source;
  if (!ARTEFACT_ID.test(options.source)) {
    record = await source.latest(options.source, ARTEFACT_FIELD);
    id = record.ref.manifest;
  }
  signal?.throwIfAborted();
  const { manifest } = await source.manifest(id);
  signal?.throwIfAborted();
  if (record && (record.ref.size !== manifest.size || record.ref.mediaType !== manifest.mediaType)) {
    throw new StrataError("CORRUPT_DATA", `artefact ${id}: the record says ${record.ref.size} bytes of ${record.ref.mediaType}, the manifest ${manifest.size} bytes of ${manifest.mediaType}`);
  }
  if (options.tensors !== undefined) return pullTensorSubset({ options: { ...options, tensors: options.tensors }, source, manifest, id, record, limits, progress, started });
  progress.bytesTotal = manifest.size;

  const cache = ChunkCache.open(options.cacheDir, options.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES);
  const corruptBefore = cache.stats().corrupt;
  const unique = plannedChunks(manifest);
  const output = await OutputFile.create(outputPath(options.out, record?.fileName ?? id), manifest.size);
  const pool = new TransferPool(limits.concurrency, limits.maxBytesInFlight);
  // Disk work (output writes, cache reads and writes) runs beside the network, bounded in bytes.
  const disk = new TransferPool(DISK_CONCURRENCY, limits.maxBytesInFlight);
  const rate = options.rate ?? tokenBucket(limits.maxBytesPerSecond, TRANSFER_BURST_SECONDS);
  // stop() of the caller aborts the transfers in flight (through the pool) and the steps between them.
  const onAbort = (): void => pool.abort(signal!.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const place = async (u: PlannedChunk, bytes: Uint8Array): Promise<void> => {
      await Promise.all(u.offsets.map((at) => output.write(bytes, at)));
      progress.bytesDone += u.length * u.offsets.length;
    };

    /** Downloads one batch, asking again for the rest when the body ends short. */
    const download = async (batch: readonly PlannedChunk[], signal: AbortSignal): Promise<void> => {
      let rest = batch;
      for (let attempt = 1; rest.length > 0; attempt++) {
        let received = 0;
        try {
          await source.chunks(
            rest,
            async (index, bytes) => {
              const u = rest[index]!;
              await rate?.take(u.length, signal);
              progress.bytesTransferred += u.length;
              progress.chunksTransferred++;
              received = index + 1;
              await disk.submit(u.length, async () => {
                await Promise.all([place(u, bytes), cache.put(u.hex, bytes)]);
                progress.emit();
              });
            },
            signal,
          );
          rest = [];
        } catch (e) {
          if (!(e instanceof TruncatedBodyError) || attempt >= limits.attempts) throw e;
          rest = rest.slice(received);
        }
      }
    };
    const submit = async (chunks: readonly PlannedChunk[]): Promise<void> => {
      for (const batch of batches(chunks, limits.batchChunks, limits.batchBytes)) {
        await pool.submit(
          batch.reduce((n, c) => n + c.length, 0),
          (signal) => download(batch, signal),
        );
      }
    };

    const cached: PlannedChunk[] = [];
    const absent: PlannedChunk[] = [];
    for (const u of unique) (cache.has(u.hex, u.length) ? cached : absent).push(u);
    progress.bytesToTransfer = absent.reduce((n, u) => n + u.length, 0);
    progress.set("downloading");
    // Start the downloads, then copy from the cache while they run.
    const downloads = submit(absent);
    downloads.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    const refetch: PlannedChunk[] = [];
    for (const u of cached) {
      signal?.throwIfAborted();
      await disk.submit(u.length, async () => {
        const bytes = await cache.get(u.hex);
        if (bytes && bytes.length === u.length) await place(u, bytes);
        else refetch.push(u);
        progress.emit();
      });
    }
    await downloads;
    await disk.drain();
    progress.bytesToTransfer += refetch.reduce((n, u) => n + u.length, 0);
    await submit(refetch);
    await pool.drain();
    await disk.drain();
    signal?.throwIfAborted();
    await output.commit();
    await cache.close();
    progress.set("done");
    return {
      artefact: id,
      bytesTotal: manifest.size,
      bytesTransferred: progress.bytesTransferred,
      chunksTotal: manifest.chunks.length,
      chunksTransferred: progress.chunksTransferred,
      seconds: (performance.now() - started) / 1000,
      out: output.path,
      mediaType: manifest.mediaType,
      record,
      chunksCorrupt: cache.stats().corrupt - corruptBefore,
    };
  } catch (e) {
    await pool.drain().catch(() => undefined);
    await disk.drain().catch(() => undefined);
    await output.discard();
    await cache.close().catch(() => undefined);
    throw e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

function sourceOf(options: PullOptions, limits: TransferLimits, hasher: ChunkHasher): ChunkSource {
  if (options.chunkSource) return options.chunkSource;
  if (options.gateway === undefined) throw new StrataError("BAD_REQUEST", "pullArtefact needs a gateway URL or a chunk source");
  return httpChunkSource(new GatewayHttp(options.gateway, { ...limits, ...(options.token !== undefined ? { token: options.token } : {}), ...(options.ca !== undefined ? { ca: options.ca } : {}) }), hasher);
}
