// Reads byte ranges of packs through aligned blocks of `readBlockBytes`: a block is fetched
// from the object store once however many concurrent readers miss it (single flight), then
// kept in a bytes-bounded memory LRU and a bytes-bounded disk cache. Nearby chunks of one pack
// share blocks, so a sequential artefact read costs one ranged GET per block.
//
// Verified once per trip into the caches: each cached block carries a mark (block-marks.ts)
// listing the chunks already hashed against that copy of its bytes; the chunk store hashes a
// chunk only when a block it lies in came fresh from the object store, and serves later reads of
// it (from memory or disk) without hashing. The disk copy of a block is protected by the CRC-32
// of its bytes, kept in memory when the file is written and checked (natively, at several GB/s)
// whenever the file is read back: damage on disk after entry makes the file a miss (it is
// deleted and the block fetched from the object store again, its chunks hashed again), so
// damaged bytes are never served. The disk cache is wiped at open, so no file is ever adopted
// without its CRC.
import { getLogger } from "@logtape/logtape";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { StrataError } from "../../core/errors.ts";
import type { ArtefactLimits } from "./artefact-limits.ts";
import type { ArtefactMetrics } from "./artefact-metrics.ts";
import { ByteLru } from "../../core/util/byte-lru.ts";
import { BlockMarks, type BlockMark } from "./block-marks.ts";
import type { ChunkIndex, ChunkLocation } from "./chunk-index.ts";
import { Semaphore } from "../../core/util/concurrency.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import { FileCache } from "../objects/file-cache.ts";
import { SingleFlight } from "../../core/util/single-flight.ts";

const log = getLogger(["strata", "artefacts"]);

/** Packs' sizes and keys remembered (ids are never reused, so entries never go stale; this bounds memory). */
const MAX_PACK_SIZES = 100_000;
/** Upper bound of block marks kept, whatever the cache sizes (each is a small set). */
const MAX_BLOCK_MARKS = 1_048_576;

/** Bytes of a pack read for one chunk, and whether that chunk was verified against them already. */
export interface PackRange {
  readonly bytes: Uint8Array;
  /** True when the chunk at this location was hashed and matched against these cached bytes. */
  readonly verified: boolean;
  /** Records that the chunk's hash matched these bytes: later reads of the same copy skip hashing. */
  markVerified(): void;
}

/** Where a pack lives: its object key (from its index row: either layout, pack-format.ts) and size. */
interface PackObject {
  readonly key: string;
  readonly bytes: number;
}

interface CachedBlock {
  readonly bytes: Uint8Array;
  readonly mark: BlockMark;
}

export interface PackReaderOptions {
  readonly store: ObjectStore;
  readonly index: ChunkIndex;
  /** Directory of the disk cache; wiped at open. */
  readonly cacheDir: string;
  readonly limits: ArtefactLimits;
  readonly metrics: ArtefactMetrics;
}

export class PackReader {
  readonly #store: ObjectStore;
  readonly #index: ChunkIndex;
  readonly #dir: string;
  readonly #blockBytes: number;
  readonly #metrics: ArtefactMetrics;
  readonly #memory: ByteLru<string>;
  readonly #disk: FileCache;
  readonly #flight = new SingleFlight<string, CachedBlock>();
  readonly #marks: BlockMarks;
  readonly #reads: Semaphore;
  readonly #packs = new Map<string, PackObject>();
  #tmp = 0;
  readonly #writes = new Set<Promise<void>>();

  private constructor(options: PackReaderOptions) {
    this.#store = options.store;
    this.#index = options.index;
    this.#dir = options.cacheDir;
    this.#blockBytes = options.limits.readBlockBytes;
    this.#metrics = options.metrics;
    this.#memory = new ByteLru(options.limits.memoryCacheBytes);
    this.#disk = new FileCache(options.limits.diskCacheBytes, (path, e) => log.warn("pack cache: cannot delete {path}: {error}", { path, error: e }));
    this.#reads = new Semaphore(options.limits.maxConcurrentReads);
    const l = options.limits;
    const cachedBlocks = Math.ceil((l.memoryCacheBytes + l.diskCacheBytes) / l.readBlockBytes) + l.maxConcurrentReads;
    this.#marks = new BlockMarks(Math.min(MAX_BLOCK_MARKS, Math.max(1, cachedBlocks)));
  }

  static async open(options: PackReaderOptions): Promise<PackReader> {
    // The disk cache is not indexed across restarts: start empty.
    await rm(options.cacheDir, { recursive: true, force: true });
    await mkdir(options.cacheDir, { recursive: true });
    return new PackReader(options);
  }

  /** Remembers a pack's object key and size (the pack writer knows them at upload). */
  notePack(pack: string, key: string, bytes: number): void {
    if (this.#packs.size >= MAX_PACK_SIZES) this.#packs.clear();
    this.#packs.set(pack, { key, bytes });
  }

  /** Drops a deleted pack from the memory cache (disk entries age out). */
  forgetPack(pack: string): void {
    this.#packs.delete(pack);
    this.#memory.deleteWhere((key) => key.startsWith(`${pack}:`));
    this.#marks.deleteWhere((key) => key.startsWith(`${pack}:`));
  }

  /** The bytes [offset, offset + length) of a pack, with whether the chunk there was verified already. */
  async read(loc: ChunkLocation, bypassCaches = false): Promise<PackRange> {
    const pack = await this.#packObject(loc.pack);
    const size = pack.bytes;
    if (loc.offset + loc.length > size) throw new StrataError("CORRUPT_DATA", `chunk [${loc.offset}, +${loc.length}) lies outside pack ${loc.pack} (${size} bytes)`);
    const first = Math.floor(loc.offset / this.#blockBytes);
    const last = Math.floor((loc.offset + loc.length - 1) / this.#blockBytes);
    const blocks = await Promise.all(Array.from({ length: last - first + 1 }, (_, i) => this.#block(loc.pack, pack, first + i, bypassCaches)));
    const start = loc.offset - first * this.#blockBytes;
    const marks = blocks.map((b) => b.mark);
    // `verified` is read when the caller checks it, not now: concurrent readers of a block just
    // fetched resume one after another, and all but the first find the chunk verified by then.
    const range = (bytes: Uint8Array): PackRange => ({
      bytes,
      get verified() {
        return marks.every((m) => m.verified.has(loc.offset));
      },
      markVerified: () => {
        for (const m of marks) m.verified.add(loc.offset);
      },
    });
    if (blocks.length === 1) return range(blocks[0]!.bytes.subarray(start, start + loc.length));
    const out = new Uint8Array(loc.length);
    let at = 0;
    let skip = start;
    for (const { bytes: b } of blocks) {
      const piece = b.subarray(skip, Math.min(b.length, skip + loc.length - at));
      out.set(piece, at);
      at += piece.length;
      skip = 0;
    }
    return range(out);
  }

  /** True when the range lies in one block (its bytes are then a view of that cached block). */
  withinOneBlock(loc: ChunkLocation): boolean {
    return Math.floor(loc.offset / this.#blockBytes) === Math.floor((loc.offset + loc.length - 1) / this.#blockBytes);
  }

  /** Forgets cached blocks of a range that failed verification. */
  evict(loc: ChunkLocation): void {
    const first = Math.floor(loc.offset / this.#blockBytes);
    const last = Math.floor((loc.offset + loc.length - 1) / this.#blockBytes);
    for (let b = first; b <= last; b++) {
      const key = `${loc.pack}:${b}`;
      this.#memory.delete(key);
      this.#marks.delete(key);
      this.#disk.remove(this.#path(key), true);
    }
  }

  async #packObject(pack: string): Promise<PackObject> {
    const known = this.#packs.get(pack);
    if (known !== undefined) return known;
    const row = await this.#index.pack(pack);
    if (!row) throw new StrataError("NOT_FOUND", `pack ${pack} is not indexed`);
    this.notePack(pack, row.objectKey, row.bytes);
    return { key: row.objectKey, bytes: row.bytes };
  }

  #path(key: string): string {
    return join(this.#dir, key.replace(":", "."));
  }

  async #block(pack: string, object: PackObject, block: number, bypassCaches: boolean): Promise<CachedBlock> {
    const key = `${pack}:${block}`;
    if (!bypassCaches) {
      const hit = this.#memory.get(key);
      if (hit) {
        this.#metrics.cacheHits.inc({ tier: "memory" });
        // Memory holds only bytes this process fetched; a mark aged out just means "hash again".
        return { bytes: hit, mark: this.#marks.get(key) ?? this.#marks.fresh(key) };
      }
    }
    return this.#flight.run(bypassCaches ? `${key}:fresh` : key, async () => {
      if (!bypassCaches) {
        const disk = await this.#readDisk(key);
        if (disk) {
          this.#metrics.cacheHits.inc({ tier: "disk" });
          this.#memory.set(key, disk.bytes);
          return disk;
        }
      }
      this.#metrics.cacheMisses.inc();
      const offset = block * this.#blockBytes;
      const length = Math.min(this.#blockBytes, object.bytes - offset);
      const bytes = await this.#reads.run(() => this.#store.get(object.key, { offset, length }));
      const mark = this.#marks.fresh(key);
      this.#memory.set(key, bytes);
      this.#writeDisk(key, bytes, mark);
      return { bytes, mark };
    });
  }

  /** The disk copy of a block when it is cached and its bytes still match the CRC taken at write. */
  async #readDisk(key: string): Promise<CachedBlock | undefined> {
    const path = this.#path(key);
    const mark = this.#marks.get(key);
    if (!this.#disk.touch(path)) return undefined;
    if (mark?.diskCrc === undefined) {
      this.#disk.remove(path, true);
      return undefined;
    }
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(path));
    } catch {
      this.#disk.remove(path, false);
      return undefined;
    }
    if (crc32(bytes) !== mark.diskCrc) {
      log.warn("pack cache: {path} changed on disk since it was written; it is dropped and the block read again", { path });
      this.#marks.delete(key);
      this.#disk.remove(path, true);
      return undefined;
    }
    return { bytes, mark };
  }

  #writeDisk(key: string, bytes: Uint8Array, mark: BlockMark): void {
    if (bytes.length > this.#disk.capacityBytes) return;
    const path = this.#path(key);
    const tmp = `${path}.${process.pid}.${this.#tmp++}.tmp`;
    const write = writeFile(tmp, bytes)
      .then(() => rename(tmp, path))
      .then(() => {
        mark.diskCrc = crc32(bytes);
        this.#disk.add(path, bytes.length);
      })
      .catch((e: unknown) => {
        log.warn("pack cache: cannot write {path}: {error}", { path, error: e });
        return rm(tmp, { force: true }).catch(() => undefined);
      })
      .finally(() => this.#writes.delete(write));
    this.#writes.add(write);
  }

  /** Waits for cache files being written. */
  async close(): Promise<void> {
    await Promise.all([...this.#writes]);
  }
}
