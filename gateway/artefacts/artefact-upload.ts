// A raw upload made an artefact on the gateway (POST /v1/artefacts): the body is chunked and
// hashed as it streams in (the same FastCDC and BLAKE3 as the TypeScript push, so both
// deduplicate against each other), chunks the store lacks are stored in batches, then the
// manifest. With media type application/safetensors the body must be a safetensors file: it is
// chunked as the push chunks one (the header one chunk, cuts at tensor boundaries) and the
// manifest indexes its tensors, so both give the same id. Memory per upload: the bytes of one pending chunk plus at most two batches (one being
// stored while the next fills). A refused or broken upload stores no manifest; chunks it already
// stored are only unreferenced, and artefact GC collects them after its grace period.
import { getLogger } from "@logtape/logtape";
import { encodeManifest, type Manifest, type ManifestChunk, type ManifestTensor, manifestId, manifestTensorIndex } from "../../core/artefacts/manifest.ts";
import { type Chunk, createChunker } from "../../core/chunking/chunking.ts";
import { bytesToHex } from "../../core/hashing/blake3.ts";
import { invariant, StrataError } from "../../core/errors.ts";
import { parseSafetensorsHeader, type SafetensorsHeader } from "../../core/tensors/safetensors.ts";
import type { ArtefactLimits } from "./artefact-limits.ts";
import type { ArtefactService } from "./artefact-service.ts";
import type { ManifestService } from "./manifest-service.ts";

const log = getLogger(["strata", "artefacts", "upload"]);

/** The media type of safetensors artefacts (the push's, edge/artefacts/push.ts). */
export const SAFETENSORS_MEDIA_TYPE = "application/safetensors";

/** Chunk bytes stored per batch (also bounded by maxChunkRequestBytes and maxChunksPerRequest). */
const BATCH_BYTES = 16 * 1024 * 1024;

export interface UploadResult {
  readonly id: string;
  readonly size: number;
  readonly chunks: number;
  /** Chunks (and their bytes) the store lacked when this upload asked; the rest were held already. */
  readonly newChunks: number;
  readonly newBytes: number;
}

export interface UploadRequest {
  readonly body: AsyncIterable<Uint8Array>;
  readonly mediaType: string;
  /** Aborted when the client goes away: the upload stops and stores no manifest. */
  readonly signal?: AbortSignal;
}

interface PendingChunk {
  readonly hex: string;
  readonly hash: Uint8Array;
  readonly data: Uint8Array;
}

/** The phase of one upload; each moves forward only. */
type UploadPhase = { kind: "receiving"; bytes: number } | { kind: "sealing"; bytes: number } | { kind: "done" } | { kind: "failed" };

/** The body bytes not yet cut into chunks: pieces held from the current chunk's start on. */
class HeldBytes {
  #pieces: Uint8Array[] = [];
  /** Absolute offset of the first held byte. */
  #start = 0;
  #length = 0;

  push(piece: Uint8Array): void {
    this.#pieces.push(piece);
    this.#length += piece.length;
  }

  /** Copies out the chunk [offset, offset + length) and forgets every byte before its end. */
  take(offset: number, length: number): Uint8Array {
    invariant(offset === this.#start && length <= this.#length, "chunks are taken in order from held bytes");
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const head = this.#pieces[0]!;
      const n = Math.min(head.length, length - filled);
      out.set(head.subarray(0, n), filled);
      filled += n;
      if (n === head.length) this.#pieces.shift();
      else this.#pieces[0] = head.subarray(n);
    }
    this.#start += length;
    this.#length -= length;
    return out;
  }
}

export class ArtefactUpload {
  readonly #artefacts: ArtefactService;
  readonly #manifests: ManifestService;
  readonly #limits: ArtefactLimits;
  #active = 0;

  constructor(artefacts: ArtefactService, manifests: ManifestService, limits: ArtefactLimits) {
    this.#artefacts = artefacts;
    this.#manifests = manifests;
    this.#limits = limits;
  }

  get limits(): ArtefactLimits {
    return this.#limits;
  }

  /** Uploads in progress. */
  get active(): number {
    return this.#active;
  }

  async upload(request: UploadRequest): Promise<UploadResult> {
    if (this.#active >= this.#limits.maxConcurrentUploads) {
      throw new StrataError("UNAVAILABLE", `${this.#active} uploads are in progress (artefacts.maxConcurrentUploads); retry`);
    }
    this.#active++;
    try {
      return await this.#run(request);
    } finally {
      this.#active--;
      invariant(this.#active >= 0, "upload count never goes negative");
    }
  }

  async #run(request: UploadRequest): Promise<UploadResult> {
    const l = this.#limits;
    const batchBytes = Math.min(BATCH_BYTES, l.maxChunkRequestBytes);
    const safetensors = request.mediaType === SAFETENSORS_MEDIA_TYPE;
    const chunker = createChunker({ safetensors });
    /** Safetensors: the header, parsed from the first chunk (the chunker keeps it whole). */
    const parsed: { header: SafetensorsHeader | null } = { header: null };
    const held = new HeldBytes();
    const listed: ManifestChunk[] = [];
    /** Chunks asked about already in this upload: a repeat is neither asked nor counted again. */
    const seen = new Set<string>();
    let batch: PendingChunk[] = [];
    let batchSize = 0;
    let storing: Promise<void> = Promise.resolve();
    let newChunks = 0;
    let newBytes = 0;
    let phase: UploadPhase = { kind: "receiving", bytes: 0 };

    const store = async (chunks: PendingChunk[]): Promise<void> => {
      const missing = new Set(await this.#artefacts.missing(chunks.map((c) => c.hex)));
      const fresh = chunks.filter((c) => missing.has(c.hex));
      if (fresh.length === 0) return;
      // New: the chunks the store lacked when asked (another upload may store one meanwhile).
      await this.#artefacts.putChunks(fresh.map((c) => ({ hash: c.hash, data: c.data })));
      newChunks += fresh.length;
      newBytes += fresh.reduce((n, c) => n + c.data.length, 0);
    };
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const chunks = batch;
      batch = [];
      batchSize = 0;
      await storing; // one batch stored at a time, while the next one fills
      request.signal?.throwIfAborted();
      storing = store(chunks);
      storing.catch(() => undefined);
    };
    const accept = async (chunks: readonly Chunk[]): Promise<void> => {
      for (const c of chunks) {
        const data = held.take(c.offset, c.length);
        if (safetensors && c.offset === 0) parsed.header = parseSafetensorsHeader(data);
        listed.push({ hash: c.hash, length: c.length });
        if (listed.length > l.maxChunks) throw new StrataError("PAYLOAD_TOO_LARGE", `the upload needs more than ${l.maxChunks} chunks (artefacts.maxChunks)`);
        const hex = bytesToHex(c.hash);
        if (seen.has(hex)) continue;
        seen.add(hex);
        batch.push({ hex, hash: c.hash, data });
        batchSize += c.length;
        if (batchSize >= batchBytes || batch.length >= l.maxChunksPerRequest) await flush();
      }
    };

    try {
      for await (const piece of request.body) {
        invariant(phase.kind === "receiving", "body bytes arrive only while receiving");
        const bytes: number = phase.bytes + piece.length;
        if (bytes > l.maxUploadBytes) throw new StrataError("PAYLOAD_TOO_LARGE", `the upload is larger than ${l.maxUploadBytes} bytes (artefacts.maxUploadBytes)`);
        phase = { kind: "receiving", bytes };
        if (piece.length === 0) continue;
        // A copy only where the chunk is cut: the body's pieces are held as they are.
        held.push(piece);
        await accept(chunker.push(piece));
      }
      request.signal?.throwIfAborted();
      invariant(phase.kind === "receiving", "sealing follows receiving");
      phase = { kind: "sealing", bytes: phase.bytes };
      await accept(chunker.end());
      await flush();
      await storing;
      let tensors: Record<string, ManifestTensor> | undefined;
      if (safetensors) {
        const header = parsed.header;
        if (header === null || header.dataStart + header.dataLength !== phase.bytes) {
          throw new StrataError("INVALID_SAFETENSORS", `the body is not a whole safetensors file (${phase.bytes} bytes; tensors end at ${header ? header.dataStart + header.dataLength : "?"})`);
        }
        tensors = manifestTensorIndex(header);
      }
      const manifest: Manifest = { v: 1, size: phase.bytes, mediaType: request.mediaType, chunks: listed, ...(tensors ? { tensors } : {}) };
      const encoded = encodeManifest(manifest, l);
      const id = manifestId(encoded);
      const put = await this.#manifests.put(id, encoded);
      // Chunks were touched as they were stored, so GC's grace period covers them; a GC with a
      // zero grace may still take them between the two steps: the client uploads again.
      if (put.outcome === "missing") throw new StrataError("UNAVAILABLE", `${put.missingCount} chunks of the upload were collected before its manifest was stored; upload again`);
      phase = { kind: "done" };
      return { id, size: manifest.size, chunks: listed.length, newChunks, newBytes };
    } catch (e) {
      phase = { kind: "failed" };
      await storing.catch(() => undefined);
      log.info("artefact upload stopped: {error}; chunks it stored are left to GC", { error: e });
      throw e;
    }
  }
}
