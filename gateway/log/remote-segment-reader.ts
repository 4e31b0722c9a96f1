// Reads committed segments from the object store with ranged GETs: footers (trailer + sparse
// index) are fetched once and kept in an LRU; data ranges go through a small byte-bounded LRU
// shared by all partitions, so a sequential reader's read-ahead serves its next requests.
// Concurrent misses on the same footer or range share one GET (single flight). Each cached range
// remembers which of its batches passed their CRC check, so a batch is verified once per GET, not
// on every read of the range.
import { open } from "node:fs/promises";
import { StrataError, invariant, isStrataError } from "../../core/errors.ts";
import type { GatewayMetrics } from "../metrics.ts";
import type { ByteSource } from "./batch-reader.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import { readAt } from "./wal.ts";
import { WeightedLru } from "../../core/util/byte-lru.ts";
import { SingleFlight } from "../../core/util/single-flight.ts";
import { decodeFooter, decodeTrailer, footerSize, SEGMENT_TRAILER_SIZE, type SegmentFooter } from "./segment-format.ts";

/** First footer fetch: the trailer plus this much before it, which holds the whole index of most segments. */
const FOOTER_GUESS_BYTES = 64 * 1024;
const MAX_FOOTERS = 4096;

interface CachedRange {
  readonly key: string;
  readonly start: number;
  readonly bytes: Uint8Array;
  /** Segment positions of batches in `bytes` that passed their CRC check. */
  readonly verified: Set<number>;
}

export class RemoteSegmentReader {
  readonly #footers = new WeightedLru<string, SegmentFooter>(MAX_FOOTERS, () => 1);
  readonly #footerLoads = new SingleFlight<string, SegmentFooter>();
  /** Byte-bounded recency order over the cached ranges (each range is its own key). */
  readonly #ranges: WeightedLru<CachedRange, CachedRange>;
  /** The cached ranges of each object, to find one holding a position. */
  readonly #rangesOf = new Map<string, Set<CachedRange>>();
  readonly #rangeLoads = new SingleFlight<string, CachedRange>();
  /** The verified-batch set of every byte view handed out by a source (see ByteSource.verified). */
  readonly #verifiedOf = new WeakMap<Uint8Array, Set<number>>();

  constructor(
    private readonly store: ObjectStore,
    private readonly rangeCacheBytes: number,
    private readonly metrics: GatewayMetrics,
  ) {
    this.#ranges = new WeightedLru(rangeCacheBytes, (r) => r.bytes.length, (r) => this.#unindex(r));
  }

  /**
   * The footer of segment object `key` of `objectSize` bytes, verified against its CRC; read from
   * `localPath` (a cached copy of the object) when given, else from the object store.
   */
  footer(key: string, objectSize: number, localPath?: string): Promise<SegmentFooter> {
    const cached = this.#footers.get(key);
    if (cached) return Promise.resolve(cached);
    const get = localPath === undefined
      ? (offset: number, length: number) => this.#get(key, offset, length)
      : (offset: number, length: number) => readLocal(localPath, offset, length);
    return this.#footerLoads.run(key, () => this.#fetchFooter(key, objectSize, get));
  }

  /** Caches a footer known without reading it (the uploader just wrote the segment). */
  rememberIndex(key: string, footer: SegmentFooter): void {
    this.#footers.set(key, footer);
  }

  /** A byte source over the data of segment `key`, served from the range cache where possible. */
  source(key: string): ByteSource {
    return {
      read: (position, minLength, preferred) => this.#read(key, position, minLength, preferred),
      verified: (bytes) => this.#verifiedOf.get(bytes),
    };
  }

  /** Starts fetching [position, position + length) of `key` into the range cache, unless cached or in flight. Never throws. */
  prefetch(key: string, position: number, length: number): void {
    this.#read(key, position, Math.min(length, 64), length).catch(() => {
      // A real read of this range reports the error.
    });
  }

  /** Drops everything cached for `key` (after retention deleted it). */
  forget(key: string): void {
    this.#footers.delete(key);
    for (const r of this.#rangesOf.get(key) ?? []) this.#ranges.delete(r);
    this.#rangesOf.delete(key);
  }

  async #fetchFooter(
    key: string,
    objectSize: number,
    get: (offset: number, length: number) => Promise<Uint8Array>,
  ): Promise<SegmentFooter> {
    let footer: SegmentFooter;
    try {
      if (objectSize < SEGMENT_TRAILER_SIZE) throw new StrataError("CORRUPT_DATA", `${objectSize} bytes is too small`);
      const guess = Math.min(objectSize, FOOTER_GUESS_BYTES + SEGMENT_TRAILER_SIZE);
      let tail = await get(objectSize - guess, guess);
      if (tail.length !== guess) throw new StrataError("CORRUPT_DATA", "short footer read");
      const t = decodeTrailer(tail.subarray(tail.length - SEGMENT_TRAILER_SIZE), objectSize);
      const need = footerSize(t.indexCount);
      if (need > tail.length) tail = await get(objectSize - need, need);
      footer = decodeFooter(tail.subarray(tail.length - need), objectSize);
    } catch (e) {
      if (!isStrataError(e) || e.code !== "CORRUPT_DATA") throw e;
      throw new StrataError("CORRUPT_DATA", `segment ${key}: ${e.message}`, { cause: e });
    }
    this.#footers.set(key, footer);
    return footer;
  }

  async #read(key: string, position: number, minLength: number, preferred: number): Promise<Uint8Array> {
    invariant(minLength <= preferred, "minLength <= preferred");
    const range = this.#cached(key, position, minLength)
      ?? (await this.#rangeLoads.run(`${key}\0${position}\0${preferred}`, () => this.#fetchRange(key, position, preferred)));
    const view = range.bytes.subarray(position - range.start);
    this.#verifiedOf.set(view, range.verified);
    return view;
  }

  /** A cached range of `key` holding [position, position + minLength), marked as recently used. */
  #cached(key: string, position: number, minLength: number): CachedRange | undefined {
    for (const r of this.#rangesOf.get(key) ?? []) {
      if (r.start <= position && r.start + r.bytes.length >= position + minLength) {
        this.#ranges.get(r);
        return r;
      }
    }
    return undefined;
  }

  async #fetchRange(key: string, position: number, length: number): Promise<CachedRange> {
    const range: CachedRange = { key, start: position, bytes: await this.#get(key, position, length), verified: new Set() };
    // A range bigger than a quarter of the cache would flush everyone else's read-ahead.
    if (range.bytes.length <= this.rangeCacheBytes / 4) {
      let ranges = this.#rangesOf.get(key);
      if (!ranges) this.#rangesOf.set(key, (ranges = new Set()));
      ranges.add(range);
      this.#ranges.set(range, range);
    }
    return range;
  }

  #unindex(range: CachedRange): void {
    const ranges = this.#rangesOf.get(range.key);
    ranges?.delete(range);
    if (ranges?.size === 0) this.#rangesOf.delete(range.key);
  }

  #get(key: string, offset: number, length: number): Promise<Uint8Array> {
    this.metrics.cacheMisses.inc();
    return this.store.get(key, { offset, length });
  }
}

async function readLocal(path: string, offset: number, length: number): Promise<Uint8Array> {
  const fh = await open(path, "r");
  try {
    return await readAt(fh, offset, length);
  } finally {
    await fh.close();
  }
}
