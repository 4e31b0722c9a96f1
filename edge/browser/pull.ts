// pullArtefact(): the latest ArtefactRef on a stream (or an artefact id) pulled into memory in a
// browser. The manifest must hash to its id and every chunk to its hash, with the manifest's
// length (BLAKE3 on the WASM kernel); a chunk that does not is a HASH_MISMATCH error and the
// pull fails. A body cut short is asked again for the chunks that did not arrive.
import { StrataError } from "../../core/errors.ts";
import type { ArtefactRef } from "../../core/log/record.ts";
import { ARTEFACT_FIELD } from "../artefacts/artefact-field.ts";
import { getChunks, getManifest } from "../artefacts/artefact-api.ts";
import { GatewayHttp } from "../artefacts/gateway-http.ts";
import { latestArtefact, type LocatedArtefact } from "../artefacts/stream-api.ts";
import { TruncatedBodyError } from "../artefacts/verified-frames.ts";
import { batches, type PlannedChunk, plannedChunks } from "../artefacts/chunk-plan.ts";
import { BROWSER_LIMITS } from "./limits.ts";
import { parseSafetensorsHeader } from "../../core/tensors/safetensors.ts";
import { safetensorsSubset, subsetSourceRanges, tensorMatcher } from "../../core/tensors/safetensors-subset.ts";

/** The subset file of the tensors `keep` accepts, from the artefact's bytes where the needed chunks were placed. */
function subsetOf(artefact: Uint8Array, dataStart: number, keep: (name: string) => boolean): { bytes: Uint8Array } {
  const subset = safetensorsSubset(parseSafetensorsHeader(artefact.subarray(0, dataStart)), keep);
  const bytes = new Uint8Array(subset.size);
  bytes.set(subset.header, 0);
  for (const p of subset.pieces) bytes.set(artefact.subarray(p.sourceBegin, p.sourceEnd), p.outOffset);
  return { bytes };
}

const ARTEFACT_ID = /^[0-9a-f]{64}$/;

export interface PullProgress {
  readonly phase: "resolving" | "manifest" | "downloading" | "done";
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly chunksVerified: number;
  readonly chunksTotal: number;
}

export interface BrowserPullOptions {
  /** Record field holding the ArtefactRef (default "artefact", as strata push writes). */
  readonly field?: string;
  readonly onProgress?: (progress: PullProgress) => void;
  readonly signal?: AbortSignal;
  /** A token allowed to consume the stream (sent as `Authorization: Bearer`). */
  readonly token?: string;
  /**
   * Tensor name globs (`*`, `?`): `bytes` is then a safetensors file of only the matching tensors
   * of a safetensors artefact, and only the chunks holding its header or their bytes are fetched.
   */
  readonly tensors?: readonly string[];
}

export interface PulledArtefact {
  /** The artefact's bytes, every chunk verified. */
  readonly bytes: Uint8Array;
  /** Its ref: manifest id, size, media type. */
  readonly artefact: ArtefactRef;
  /** Chunks in the manifest (each one verified). */
  readonly chunks: number;
  /** Distinct chunks downloaded. */
  readonly chunksTransferred: number;
  /** Where the ref was found, when pulled from a stream. */
  readonly record: LocatedArtefact | null;
}

export async function pullArtefact(gatewayUrl: string, streamOrId: string, options: BrowserPullOptions = {}): Promise<PulledArtefact> {
  const http = new GatewayHttp(gatewayUrl, { requestTimeoutMs: BROWSER_LIMITS.requestTimeoutMs, attempts: BROWSER_LIMITS.attempts, ...(options.token !== undefined ? { token: options.token } : {}) });
  let bytesTotal = 0;
  let bytesDone = 0;
  let chunksVerified = 0;
  let chunksTotal = 0;
  const report = (phase: PullProgress["phase"]): void => options.onProgress?.({ phase, bytesDone, bytesTotal, chunksVerified, chunksTotal });

  report("resolving");
  let record: LocatedArtefact | null = null;
  let id = streamOrId;
  if (!ARTEFACT_ID.test(streamOrId)) {
    record = await latestArtefact(http, streamOrId, options.field ?? ARTEFACT_FIELD);
    id = record.ref.manifest;
  }
  report("manifest");
  const { manifest } = await getManifest(http, id);
  if (record && (record.ref.size !== manifest.size || record.ref.mediaType !== manifest.mediaType)) {
    throw new StrataError("CORRUPT_DATA", `artefact ${id}: the record says ${record.ref.size} bytes of ${record.ref.mediaType}, the manifest ${manifest.size} bytes of ${manifest.mediaType}`);
  }
  if (manifest.size > BROWSER_LIMITS.maxArtefactBytes) {
    throw new StrataError("PAYLOAD_TOO_LARGE", `artefact ${id} is ${manifest.size} bytes; the browser client pulls at most ${BROWSER_LIMITS.maxArtefactBytes}`);
  }
  bytesTotal = manifest.size;
  chunksTotal = manifest.chunks.length;
  const out = new Uint8Array(manifest.size);
  const keep = options.tensors === undefined ? undefined : tensorMatcher(options.tensors);
  if (keep && !manifest.tensors) throw new StrataError("BAD_REQUEST", `a tensor selection needs a safetensors artefact pushed with its tensor index; ${id} is ${manifest.mediaType} without one`);
  const ranges = keep && manifest.tensors ? subsetSourceRanges(manifest.tensors, manifest.size, keep) : undefined;
  const unique = plannedChunks(manifest).filter((c) => !ranges || c.offsets.some((at) => ranges.some(([b, e]) => at < e && b < at + c.length)));
  report("downloading");

  const download = async (batch: readonly PlannedChunk[]): Promise<void> => {
    let rest = batch;
    for (let attempt = 1; rest.length > 0; attempt++) {
      let received = 0;
      try {
        await getChunks(
          http,
          rest,
          (index, bytes) => {
            const c = rest[index]!;
            for (const at of c.offsets) out.set(bytes, at);
            received = index + 1;
            bytesDone += c.length * c.offsets.length;
            chunksVerified += c.offsets.length;
            report("downloading");
          },
          options.signal,
        );
        rest = [];
      } catch (e) {
        if (!(e instanceof TruncatedBodyError) || attempt >= BROWSER_LIMITS.attempts) throw e;
        rest = rest.slice(received);
      }
    }
  };
  const queue = batches(unique, BROWSER_LIMITS.batchChunks, BROWSER_LIMITS.batchBytes);
  const worker = async (): Promise<void> => {
    for (let batch = queue.shift(); batch; batch = queue.shift()) await download(batch);
  };
  await Promise.all(Array.from({ length: Math.min(BROWSER_LIMITS.concurrency, queue.length) }, worker));
  report("done");
  if (keep && ranges) return { ...subsetOf(out, ranges[0]![1], keep), artefact: { kind: "artefact", manifest: id, size: manifest.size, mediaType: manifest.mediaType }, chunks: manifest.chunks.length, chunksTransferred: unique.length, record };
  return { bytes: out, artefact: { kind: "artefact", manifest: id, size: manifest.size, mediaType: manifest.mediaType }, chunks: manifest.chunks.length, chunksTransferred: unique.length, record };
}
