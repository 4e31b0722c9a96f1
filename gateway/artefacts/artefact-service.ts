// Serving chunks and artefacts: POST /chunks/missing, PUT /chunks, POST /chunks/get and the
// on-the-fly assembly of an artefact (or a byte range of it) from its chunks. Responses are
// streams with bounded memory: at most readAheadBytes (and readAheadChunks) are read ahead.
import { getLogger } from "@logtape/logtape";
import { encodeFrameHeader } from "../../core/artefacts/chunk-frames.ts";
import { StrataError } from "../../core/errors.ts";
import { hexToBytes } from "../../core/util/hex.ts";
import { chunkAt } from "../../core/artefacts/manifest.ts";
import type { ChunkStore, ChunkUpload, PutResult } from "./chunk-store.ts";
import type { ArtefactLimits } from "./artefact-limits.ts";
import { EgressLimiter } from "./egress-limiter.ts";
import type { ManifestInfo, ManifestService } from "./manifest-service.ts";

const log = getLogger(["strata", "artefacts"]);

const HASH = /^[0-9a-f]{64}$/;

/** Checks a list of hex hashes against the per-request limit. */
export function checkHashes(hexes: readonly string[], limits: ArtefactLimits): readonly string[] {
  if (hexes.length > limits.maxHashesPerRequest) throw new StrataError("BATCH_TOO_LARGE", `${hexes.length} hashes; the limit is ${limits.maxHashesPerRequest} per request`);
  hexes.forEach((h, i) => {
    if (!HASH.test(h)) throw new StrataError("BAD_REQUEST", `hashes[${i}] is not 64 lowercase hex characters`);
  });
  return hexes;
}

/** A byte stream from an async generator, pulled as the consumer reads; cancel stops the generator. */
function toStream(source: AsyncGenerator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { value, done } = await source.next();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (e) {
          log.error("artefact stream failed: {error}", { error: e });
          controller.error(e);
        }
      },
      async cancel() {
        await source.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

export interface ArtefactBody {
  readonly info: ManifestInfo;
  readonly stream: ReadableStream<Uint8Array>;
}

export class ArtefactService {
  readonly #chunks: ChunkStore;
  readonly #manifests: ManifestService;
  readonly #limits: ArtefactLimits;

  constructor(chunks: ChunkStore, manifests: ManifestService, limits: ArtefactLimits, readonly egress: EgressLimiter = new EgressLimiter()) {
    this.#chunks = chunks;
    this.#manifests = manifests;
    this.#limits = limits;
  }

  get limits(): ArtefactLimits {
    return this.#limits;
  }

  async missing(hexes: readonly string[]): Promise<string[]> {
    return this.#chunks.missing(checkHashes(hexes, this.#limits));
  }

  async putChunks(chunks: readonly ChunkUpload[]): Promise<PutResult> {
    return this.#chunks.put(chunks);
  }

  /** Every hash is located before the stream starts: an unknown one is NOT_FOUND, nothing sent. */
  async getChunks(hexes: readonly string[]): Promise<ReadableStream<Uint8Array>> {
    checkHashes(hexes, this.#limits);
    const locations = await this.#chunks.locateAll(hexes);
    const chunks = this.#chunks;
    async function* frames(): AsyncGenerator<Uint8Array> {
      let i = 0;
      for await (const data of chunks.readSequence(hexes, locations)) {
        yield encodeFrameHeader(hexToBytes(hexes[i++]!), data.length);
        yield data;
      }
    }
    return this.egress.pace(toStream(frames()));
  }

  info(id: string): Promise<ManifestInfo> {
    return this.#manifests.info(id);
  }

  /** Bytes [start, end) of the artefact (end exclusive, inside the size). */
  async read(id: string, start: number, end: number): Promise<ArtefactBody> {
    const loaded = await this.#manifests.load(id);
    const size = loaded.manifest.size;
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && 0 <= start && start <= end && end <= size)) {
      throw new StrataError("OFFSET_OUT_OF_RANGE", `range [${start}, ${end}) is outside [0, ${size})`);
    }
    const info: ManifestInfo = { id, size, mediaType: loaded.manifest.mediaType, chunks: loaded.hexes.length };
    if (start === end) return { info, stream: toStream((async function* () {})()) };
    const first = chunkAt(loaded.offsets, start);
    const last = chunkAt(loaded.offsets, end - 1);
    const chunks = this.#chunks;
    async function* body(): AsyncGenerator<Uint8Array> {
      let i = first;
      for await (const data of chunks.readSequence(loaded.hexes.slice(first, last + 1))) {
        const chunkStart = loaded.offsets[i]!;
        const from = Math.max(0, start - chunkStart);
        const to = Math.min(data.length, end - chunkStart);
        yield from === 0 && to === data.length ? data : data.subarray(from, to);
        i++;
      }
    }
    return { info, stream: this.egress.pace(toStream(body())) };
  }
}
