// Reads byte ranges of packs through aligned blocks of `readBlockBytes`: a block is fetched
// from the object store once however many concurrent readers miss it (single flight), then
// kept in a bytes-bounded memory LRU and a bytes-bounded disk cache. Nearby chunks of one pack
// share blocks, so a sequential artefact read costs one ranged GET per block.
import { getLogger } from "@logtape/logtape";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { StrataError } from "../../core/errors.ts";
import type { ArtefactLimits } from "./artefact-limits.ts";
import type { ArtefactMetrics } from "./artefact-metrics.ts";
import { ByteLru } from "../../core/util/byte-lru.ts";
import type { ChunkIndex, ChunkLocation } from "./chunk-index.ts";
import { Semaphore } from "../../core/util/concurrency.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import { packKey } from "./pack-format.ts";
import { FileCache } from "../objects/file-cache.ts";
import { SingleFlight } from "../../core/util/single-flight.ts";

const log = getLogger(["strata", "artefacts"]);

/** Pack sizes remembered (ids are never reused, so entries never go stale; this bounds memory). */
const MAX_PACK_SIZES = 100_000;

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
  readonly #flight = new SingleFlight<string, Uint8Array>();
  readonly #reads: Semaphore;
  readonly #packSizes = new Map<string, number>();
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
  }

  static async open(options: PackReaderOptions): Promise<PackReader> {
    // The disk cache is not indexed across restarts: start empty.
    await rm(options.cacheDir, { recursive: true, force: true });
    await mkdir(options.cacheDir, { recursive: true });
    return new PackReader(options);
  }

  /** Remembers a pack's size (the pack writer knows it at upload). */
  notePackSize(pack: string, bytes: number): void {
    if (this.#packSizes.size >= MAX_PACK_SIZES) this.#packSizes.clear();
    this.#packSizes.set(pack, bytes);
  }

  /** Drops a deleted pack from the memory cache (disk entries age out). */
  forgetPack(pack: string): void {
    this.#packSizes.delete(pack);
    this.#memory.deleteWhere((key) => key.startsWith(`${pack}:`));
  }

  /** The bytes [offset, offset + length) of a pack, unverified. */
  async read(loc: ChunkLocation, bypassCaches = false): Promise<Uint8Array> {
    const size = await this.#packSize(loc.pack);
    if (loc.offset + loc.length > size) throw new StrataError("CORRUPT_DATA", `chunk [${loc.offset}, +${loc.length}) lies outside pack ${loc.pack} (${size} bytes)`);
    const first = Math.floor(loc.offset / this.#blockBytes);
    const last = Math.floor((loc.offset + loc.length - 1) / this.#blockBytes);
    const blocks = await Promise.all(Array.from({ length: last - first + 1 }, (_, i) => this.#block(loc.pack, first + i, size, bypassCaches)));
    const start = loc.offset - first * this.#blockBytes;
    if (blocks.length === 1) return blocks[0]!.subarray(start, start + loc.length);
    const out = new Uint8Array(loc.length);
    let at = 0;
    let skip = start;
    for (const b of blocks) {
      const piece = b.subarray(skip, Math.min(b.length, skip + loc.length - at));
      out.set(piece, at);
      at += piece.length;
      skip = 0;
    }
    return out;
  }

  /** Forgets cached blocks of a range that failed verification. */
  evict(loc: ChunkLocation): void {
    const first = Math.floor(loc.offset / this.#blockBytes);
    const last = Math.floor((loc.offset + loc.length - 1) / this.#blockBytes);
    for (let b = first; b <= last; b++) {
      const key = `${loc.pack}:${b}`;
      this.#memory.delete(key);
      this.#disk.remove(this.#path(key), true);
    }
  }

  async #packSize(pack: string): Promise<number> {
    const known = this.#packSizes.get(pack);
    if (known !== undefined) return known;
    const row = await this.#index.pack(pack);
    if (!row) throw new StrataError("NOT_FOUND", `pack ${pack} is not indexed`);
    this.notePackSize(pack, row.bytes);
    return row.bytes;
  }

  #path(key: string): string {
    return join(this.#dir, key.replace(":", "."));
  }

  async #block(pack: string, block: number, packBytes: number, bypassCaches: boolean): Promise<Uint8Array> {
    const key = `${pack}:${block}`;
    if (!bypassCaches) {
      const hit = this.#memory.get(key);
      if (hit) {
        this.#metrics.cacheHits.inc({ tier: "memory" });
        return hit;
      }
    }
    return this.#flight.run(bypassCaches ? `${key}:fresh` : key, async () => {
      if (!bypassCaches) {
        const disk = await this.#readDisk(key);
        if (disk) {
          this.#metrics.cacheHits.inc({ tier: "disk" });
          this.#memory.set(key, disk);
          return disk;
        }
      }
      this.#metrics.cacheMisses.inc();
      const offset = block * this.#blockBytes;
      const length = Math.min(this.#blockBytes, packBytes - offset);
      const bytes = await this.#reads.run(() => this.#store.get(packKey(pack), { offset, length }));
      this.#memory.set(key, bytes);
      this.#writeDisk(key, bytes);
      return bytes;
    });
  }

  async #readDisk(key: string): Promise<Uint8Array | undefined> {
    const path = this.#path(key);
    if (!this.#disk.touch(path)) return undefined;
    try {
      return new Uint8Array(await readFile(path));
    } catch {
      this.#disk.remove(path, false);
      return undefined;
    }
  }

  #writeDisk(key: string, bytes: Uint8Array): void {
    if (bytes.length > this.#disk.capacityBytes) return;
    const path = this.#path(key);
    const tmp = `${path}.${process.pid}.${this.#tmp++}.tmp`;
    const write = writeFile(tmp, bytes)
      .then(() => rename(tmp, path))
      .then(() => this.#disk.add(path, bytes.length))
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
