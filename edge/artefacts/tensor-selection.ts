// Partial pulls of safetensors artefacts (docs/versions.md): `--tensors GLOB` keeps the tensors
// whose names match; the output is a valid safetensors file of only those (header rewritten by
// core/tensors/safetensors-subset.ts) and only the chunks holding the header or their bytes are
// fetched (from the chunk cache when there, verified as any pull).
import { StrataError } from "../../core/errors.ts";
import { chunkOffsets, type Manifest } from "../../core/artefacts/manifest.ts";
import { parseSafetensorsHeader } from "../../core/tensors/safetensors.ts";
import { safetensorsSubset, tensorMatcher, type SafetensorsSubset } from "../../core/tensors/safetensors-subset.ts";
import { bytesToHex } from "../../core/util/hex.ts";
import { batches } from "./chunk-plan.ts";
import type { ByteRate, ChunkSource } from "./chunk-source.ts";
import { DEFAULT_CACHE_MAX_BYTES, TRANSFER_BURST_SECONDS, type TransferLimits } from "./transfer-limits.ts";
import { ChunkCache } from "./chunk-cache.ts";
import { OutputFile, outputPath } from "./output-file.ts";
import type { LocatedArtefact } from "./stream-api.ts";
import { tokenBucket } from "../../core/util/token-bucket.ts";
import type { ProgressTracker, TransferSummary } from "./progress.ts";
import { TruncatedBodyError } from "./verified-frames.ts";

/** A chunk of the artefact at file offset `at`. */
interface PositionedChunk {
  readonly index: number;
  readonly at: number;
  readonly hash: Uint8Array;
  readonly hex: string;
  readonly length: number;
}

export interface SubsetTransfer {
  readonly source: ChunkSource;
  readonly manifest: Manifest;
  readonly cache: ChunkCache;
  readonly limits: TransferLimits;
  readonly rate: ByteRate | undefined;
  readonly progress: ProgressTracker;
  readonly signal: AbortSignal;
}

/** Chunks overlapping any of the ranges [begin, end), in file order, once each. */
function chunksOver(manifest: Manifest, offsets: Float64Array, ranges: readonly (readonly [number, number])[]): PositionedChunk[] {
  const out: PositionedChunk[] = [];
  for (let i = 0; i < manifest.chunks.length; i++) {
    const at = offsets[i]!;
    const c = manifest.chunks[i]!;
    if (ranges.some(([b, e]) => at < e && b < at + c.length)) out.push({ index: i, at, hash: c.hash, hex: bytesToHex(c.hash), length: c.length });
  }
  return out;
}

/** Each chunk's bytes (cache first, else downloaded in batches, verified, cached) handed to `use` in some order. */
async function eachChunk(t: SubsetTransfer, chunks: readonly PositionedChunk[], use: (c: PositionedChunk, bytes: Uint8Array) => Promise<void>): Promise<void> {
  const absent: PositionedChunk[] = [];
  for (const c of chunks) {
    const bytes = t.cache.has(c.hex, c.length) ? await t.cache.get(c.hex) : null;
    if (bytes && bytes.length === c.length) await use(c, bytes);
    else absent.push(c);
  }
  t.progress.bytesToTransfer += absent.reduce((n, c) => n + c.length, 0);
  for (const batch of batches(absent, t.limits.batchChunks, t.limits.batchBytes)) {
    let rest = batch;
    for (let attempt = 1; rest.length > 0; attempt++) {
      let received = 0;
      try {
        await t.source.chunks(
          rest,
          async (index, bytes) => {
            const c = rest[index]!;
            await t.rate?.take(c.length, t.signal);
            t.progress.bytesTransferred += c.length;
            t.progress.chunksTransferred++;
            received = index + 1;
            await Promise.all([use(c, bytes), t.cache.put(c.hex, bytes)]);
            t.progress.emit();
          },
          t.signal,
        );
        rest = [];
      } catch (e) {
        if (!(e instanceof TruncatedBodyError) || attempt >= t.limits.attempts) throw e;
        rest = rest.slice(received);
      }
    }
  }
}

/** The subset the globs select from a safetensors artefact: reads its header through the chunks that hold it. */
export async function planTensorSubset(t: SubsetTransfer, globs: readonly string[]): Promise<SafetensorsSubset> {
  const keep = tensorMatcher(globs);
  if (!t.manifest.tensors) throw new StrataError("BAD_REQUEST", `a tensor selection needs a safetensors artefact pushed with its tensor index; this one is ${t.manifest.mediaType} without one`);
  const offsets = chunkOffsets(t.manifest);
  // The data section starts where the first tensor does: the header is every byte before it.
  const dataStart = Math.min(t.manifest.size, ...Object.values(t.manifest.tensors).map((x) => x.begin));
  const header = new Uint8Array(dataStart);
  await eachChunk(t, chunksOver(t.manifest, offsets, [[0, dataStart]]), async (c, bytes) => {
    header.set(bytes.subarray(0, Math.min(bytes.length, dataStart - c.at)), c.at);
  });
  return safetensorsSubset(parseSafetensorsHeader(header), keep);
}

/** Writes the subset into `output` (sized subset.size): its header, then the kept tensors' bytes from their chunks. */
export async function writeTensorSubset(t: SubsetTransfer, subset: SafetensorsSubset, output: OutputFile): Promise<void> {
  await output.write(subset.header, 0);
  t.progress.bytesDone += subset.header.length;
  const offsets = chunkOffsets(t.manifest);
  const wanted = chunksOver(t.manifest, offsets, subset.pieces.map((p) => [p.sourceBegin, p.sourceEnd] as const));
  await eachChunk(t, wanted, async (c, bytes) => {
    for (const p of subset.pieces) {
      const begin = Math.max(p.sourceBegin, c.at);
      const end = Math.min(p.sourceEnd, c.at + c.length);
      if (begin >= end) continue;
      await output.write(bytes.subarray(begin - c.at, end - c.at), p.outOffset + (begin - p.sourceBegin));
      t.progress.bytesDone += end - begin;
    }
  });
}

/** What a partial pull takes of pullArtefact's options (pull.ts). */
export interface SubsetPullOptions {
  readonly tensors: readonly string[];
  readonly out: string;
  readonly cacheDir: string;
  readonly cacheMaxBytes?: number;
  readonly signal?: AbortSignal;
  readonly rate?: ByteRate;
}

/** pullArtefact's summary (pull.ts PullSummary), of the subset file. */
export interface SubsetPullSummary extends TransferSummary {
  readonly out: string;
  readonly mediaType: string;
  readonly record: LocatedArtefact | null;
  readonly chunksCorrupt: number;
}

export interface SubsetPull {
  readonly options: SubsetPullOptions;
  readonly source: ChunkSource;
  readonly manifest: Manifest;
  readonly id: string;
  readonly record: LocatedArtefact | null;
  readonly limits: TransferLimits;
  readonly progress: ProgressTracker;
  readonly started: number;
}

/** pullArtefact with `tensors`: the subset file written atomically to OUT (a directory gets the pushed name). */
export async function pullTensorSubset(p: SubsetPull): Promise<SubsetPullSummary> {
  const { options, progress } = p;
  const cache = ChunkCache.open(options.cacheDir, options.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES);
  const corruptBefore = cache.stats().corrupt;
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
  const t: SubsetTransfer = { source: p.source, manifest: p.manifest, cache, limits: p.limits, rate: options.rate ?? tokenBucket(p.limits.maxBytesPerSecond, TRANSFER_BURST_SECONDS) ?? undefined, progress, signal };
  let output: OutputFile | undefined;
  try {
    progress.set("downloading");
    const subset = await planTensorSubset(t, options.tensors);
    progress.bytesTotal = subset.size;
    output = await OutputFile.create(outputPath(options.out, p.record?.fileName ?? p.id), subset.size);
    await writeTensorSubset(t, subset, output);
    signal.throwIfAborted();
    await output.commit();
    await cache.close();
    progress.set("done");
    return {
      artefact: p.id,
      bytesTotal: subset.size,
      bytesTransferred: progress.bytesTransferred,
      chunksTotal: p.manifest.chunks.length,
      chunksTransferred: progress.chunksTransferred,
      seconds: (performance.now() - p.started) / 1000,
      out: output.path,
      mediaType: p.manifest.mediaType,
      record: p.record,
      chunksCorrupt: cache.stats().corrupt - corruptBefore,
    };
  } catch (e) {
    controller.abort(e);
    await output?.discard();
    await cache.close().catch(() => undefined);
    throw e;
  }
}
