// Reads committed segments from the object store with ranged GETs: footers (trailer + sparse
// index) are fetched once and cached; data ranges go through a small byte-bounded cache shared by
// all partitions, so a sequential reader's read-ahead serves its next requests. Concurrent misses
// on the same footer or range share one GET. Each cached range remembers which of its batches
// passed their CRC check, so a batch is verified once per GET, not on every read of the range.
import { open } from "node:fs/promises";
import { StrataError, invariant, isStrataError } from "../../core/errors.ts";
import type { GatewayMetrics } from "../metrics.ts";
import type { ByteSource } from "./batch-reader.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import { readAt } from "./wal.ts";
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
  private readonly footers = new Map<string, SegmentFooter>();
  private readonly ranges = new Map<string, CachedRange[]>();
  // Insertion order = recency order.
  private readonly lru = new Set<CachedRange>();
  private rangeBytes = 0;
  private readonly inflight = new Map<string, Promise<CachedRange>>();
  /** The verified-batch set of every byte view handed out by a source (see ByteSource.verified). */
  private readonly verifiedOf = new WeakMap<Uint8Array, Set<number>>();
  private readonly footerInflight = new Map<string, Promise<SegmentFooter>>();

  constructor(
    private readonly store: ObjectStore,
    private readonly rangeCacheBytes: number,
    private readonly metrics: GatewayMetrics,
  ) {}

  /**
   * The footer of segment object `key` of `objectSize` bytes, verified against its CRC; read from
   * `localPath` (a cached copy of the object) when given, else from the object store.
   */
  footer(key: string, objectSize: number, localPath?: string): Promise<SegmentFooter> {
    const cached = this.footers.get(key);
    if (cached) return Promise.resolve(cached);
    let p = this.footerInflight.get(key);
    if (!p) {
      const get = localPath === undefined
        ? (offset: number, length: number) => this.get(key, offset, length)
        : (offset: number, length: number) => readLocal(localPath, offset, length);
      p = this.fetchFooter(key, objectSize, get).finally(() => this.footerInflight.delete(key));
      this.footerInflight.set(key, p);
    }
    return p;
  }

  /** Caches a footer known without reading it (the uploader just wrote the segment). */
  rememberIndex(key: string, footer: SegmentFooter): void {
    this.storeFooter(key, footer);
  }

  /** A byte source over the data of segment `key`, served from the range cache where possible. */
  source(key: string): ByteSource {
    return {
      read: (position, minLength, preferred) => this.read(key, position, minLength, preferred),
      verified: (bytes) => this.verifiedOf.get(bytes),
    };
  }

  /** Starts fetching [position, position + length) of `key` into the range cache, unless cached or in flight. Never throws. */
  prefetch(key: string, position: number, length: number): void {
    this.read(key, position, Math.min(length, 64), length).catch(() => {
      // A real read of this range reports the error.
    });
  }

  /** Drops everything cached for `key` (after retention deleted it). */
  forget(key: string): void {
    this.footers.delete(key);
    for (const r of this.ranges.get(key) ?? []) {
      this.lru.delete(r);
      this.rangeBytes -= r.bytes.length;
    }
    this.ranges.delete(key);
  }

  private async fetchFooter(
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
    this.storeFooter(key, footer);
    return footer;
  }

  private storeFooter(key: string, footer: SegmentFooter): void {
    if (this.footers.size >= MAX_FOOTERS && !this.footers.has(key)) {
      const oldest = this.footers.keys().next().value;
      if (oldest !== undefined) this.footers.delete(oldest);
    }
    this.footers.set(key, footer);
  }

  private async read(key: string, position: number, minLength: number, preferred: number): Promise<Uint8Array> {
    invariant(minLength <= preferred, "minLength <= preferred");
    let range: CachedRange | undefined;
    for (const r of this.ranges.get(key) ?? []) {
      if (r.start <= position && r.start + r.bytes.length >= position + minLength) {
        this.lru.delete(r);
        this.lru.add(r);
        range = r;
        break;
      }
    }
    if (!range) {
      const flightKey = `${key}\0${position}\0${preferred}`;
      let p = this.inflight.get(flightKey);
      if (!p) {
        p = this.get(key, position, preferred)
          .then((bytes) => {
            const fetched: CachedRange = { key, start: position, bytes, verified: new Set() };
            this.remember(fetched);
            return fetched;
          })
          .finally(() => this.inflight.delete(flightKey));
        this.inflight.set(flightKey, p);
      }
      range = await p;
    }
    const view = range.bytes.subarray(position - range.start);
    this.verifiedOf.set(view, range.verified);
    return view;
  }

  private get(key: string, offset: number, length: number): Promise<Uint8Array> {
    this.metrics.cacheMisses.inc();
    return this.store.get(key, { offset, length });
  }

  private remember(range: CachedRange): void {
    // A range bigger than a quarter of the cache would flush everyone else's read-ahead.
    if (range.bytes.length > this.rangeCacheBytes / 4) return;
    let list = this.ranges.get(range.key);
    if (!list) this.ranges.set(range.key, (list = []));
    list.push(range);
    this.lru.add(range);
    this.rangeBytes += range.bytes.length;
    while (this.rangeBytes > this.rangeCacheBytes) {
      const oldest = this.lru.values().next().value;
      invariant(oldest !== undefined, "range cache over capacity holds entries");
      this.lru.delete(oldest);
      this.rangeBytes -= oldest.bytes.length;
      const rest = (this.ranges.get(oldest.key) ?? []).filter((r) => r !== oldest);
      if (rest.length === 0) this.ranges.delete(oldest.key);
      else this.ranges.set(oldest.key, rest);
    }
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
