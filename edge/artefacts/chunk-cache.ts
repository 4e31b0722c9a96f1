// A local content-addressed chunk cache: one file per chunk, named by its BLAKE3 hash
// (`<dir>/<first two hex digits>/<64 hex digits>`), bounded in bytes with least-recently-used
// eviction. A chunk is written to a temporary file and renamed into place, so a name only ever
// holds a whole chunk; every read is verified against the name, and a chunk that fails is
// deleted and reported missing (so a torn write after a power loss, or a flipped bit, costs one
// refetch). Recency is kept in memory and in each file's mtime, so it survives restarts.
// Several processes may share a directory: each keeps its own index, and a chunk another one
// evicted simply reads as missing.
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { readFile, rename, rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { blake3 } from "../../core/hashing/blake3.ts";
import { StrataError } from "../../core/errors.ts";
import { bytesToHex } from "../../core/util/hex.ts";
import { HARD_LIMITS } from "./limits.ts";

const HASH_HEX = /^[0-9a-f]{64}$/;
const TMP_DIR = "tmp";
/** A file's mtime is refreshed on use only when older than this: recency across restarts need not be exact, and each refresh is a metadata write. */
const TOUCH_AFTER_MS = 10 * 60 * 1000;
/** Temporary files older than this are from a process that died mid-write. */
const STALE_TMP_MS = 10 * 60 * 1000;

interface Entry {
  size: number;
  /** File mtime as last set or seen (ms): recency across restarts. */
  mtime: number;
}

export interface ChunkCacheStats {
  readonly chunks: number;
  readonly bytes: number;
  readonly maxBytes: number;
  /** Chunks found corrupt on read and deleted since the cache was opened. */
  readonly corrupt: number;
  readonly evicted: number;
}

export class ChunkCache {
  readonly dir: string;
  readonly maxBytes: number;
  /** hash hex → entry, in least-recently-used-first order. */
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;
  #corrupt = 0;
  #evicted = 0;
  #tmpCounter = 0;
  /** Hashes being written by this process. */
  readonly #writing = new Set<string>();

  private constructor(dir: string, maxBytes: number) {
    this.dir = dir;
    this.maxBytes = maxBytes;
  }

  /** Opens (creating) the cache in `dir`, indexing what is there and evicting down to `maxBytes`. */
  static open(dir: string, maxBytes: number): ChunkCache {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new StrataError("BAD_REQUEST", `chunk cache size must be a non-negative integer, got ${String(maxBytes)}`);
    const cache = new ChunkCache(dir, maxBytes);
    mkdirSync(join(dir, TMP_DIR), { recursive: true });
    const present = new Set(readdirSync(dir));
    for (let i = 0; i < 256; i++) {
      const sub = i.toString(16).padStart(2, "0");
      if (!present.has(sub)) mkdirSync(join(dir, sub), { recursive: true });
    }
    cache.#sweepTemporaries();
    cache.#index();
    cache.#evict(0);
    return cache;
  }

  #sweepTemporaries(): void {
    const tmp = join(this.dir, TMP_DIR);
    const now = Date.now();
    for (const name of readdirSync(tmp)) {
      const path = join(tmp, name);
      try {
        if (now - statSync(path).mtimeMs > STALE_TMP_MS) rmSync(path, { force: true });
      } catch {
        // gone already (another process swept it)
      }
    }
  }

  #index(): void {
    const found: { hash: string; size: number; mtime: number }[] = [];
    for (const sub of readdirSync(this.dir)) {
      if (!/^[0-9a-f]{2}$/.test(sub)) continue;
      for (const name of readdirSync(join(this.dir, sub))) {
        if (!HASH_HEX.test(name) || !name.startsWith(sub)) continue;
        try {
          const st = statSync(join(this.dir, sub, name));
          if (st.isFile()) found.push({ hash: name, size: st.size, mtime: st.mtimeMs });
        } catch {
          // evicted meanwhile by another process
        }
      }
    }
    found.sort((a, b) => a.mtime - b.mtime);
    for (const f of found) {
      this.#entries.set(f.hash, { size: f.size, mtime: f.mtime });
      this.#bytes += f.size;
    }
  }

  #path(hash: string): string {
    return join(this.dir, hash.slice(0, 2), hash);
  }

  #drop(hash: string): void {
    const entry = this.#entries.get(hash);
    if (entry) {
      this.#entries.delete(hash);
      this.#bytes -= entry.size;
    }
    // Removed in the background: the index no longer lists it, so nothing reads it meanwhile.
    rm(this.#path(hash), { force: true }).catch(() => undefined);
  }

  /** Evicts least recently used chunks until `incoming` more bytes fit. */
  #evict(incoming: number): void {
    for (const hash of this.#entries.keys()) {
      if (this.#bytes + incoming <= this.maxBytes) return;
      this.#drop(hash);
      this.#evicted++;
    }
  }

  #touch(hash: string, entry: Entry): void {
    this.#entries.delete(hash);
    this.#entries.set(hash, entry);
    const now = Date.now();
    if (now - entry.mtime < TOUCH_AFTER_MS) return;
    entry.mtime = now;
    // Recency for the next process; a file evicted by another process meanwhile is no error.
    utimes(this.#path(hash), new Date(now), new Date(now)).catch(() => undefined);
  }

  /** Whether the index holds `hash` with `length` bytes (not verified: `get` verifies). */
  has(hash: string, length?: number): boolean {
    const entry = this.#entries.get(hash);
    return entry !== undefined && (length === undefined || entry.size === length);
  }

  /**
   * The chunk's bytes, verified against its hash; null when absent, or when corrupt (the file is
   * then deleted and counted in stats().corrupt).
   */
  async get(hash: string): Promise<Uint8Array | null> {
    const entry = this.#entries.get(hash);
    if (!entry) return null;
    let bytes: Uint8Array;
    try {
      if (entry.size > HARD_LIMITS.maxChunkBytes) throw new Error("oversized");
      bytes = await readFile(this.#path(hash));
    } catch {
      if (this.#entries.get(hash) === entry) this.#drop(hash);
      return null;
    }
    if (bytes.length !== entry.size || bytesToHex(blake3(bytes)) !== hash) {
      if (this.#entries.get(hash) === entry) this.#drop(hash);
      this.#corrupt++;
      return null;
    }
    if (this.#entries.get(hash) === entry) this.#touch(hash, entry);
    return bytes;
  }

  /**
   * Stores a chunk whose hash the caller has verified. Written to a temporary file and renamed,
   * so a crash leaves either nothing or the whole chunk. Not fsynced: reads verify instead.
   * A chunk larger than the whole cache is not stored.
   */
  async put(hash: string, bytes: Uint8Array): Promise<void> {
    if (!HASH_HEX.test(hash)) throw new StrataError("BAD_REQUEST", `chunk cache: not a hash: ${hash}`);
    const existing = this.#entries.get(hash);
    if (existing && existing.size === bytes.length) {
      this.#touch(hash, existing);
      return;
    }
    if (bytes.length > this.maxBytes || this.#writing.has(hash)) return;
    if (existing) this.#drop(hash);
    this.#evict(bytes.length);
    // Writes in flight are counted: when even they do not leave room, this chunk is not kept.
    if (this.#bytes + bytes.length > this.maxBytes) return;
    // Counted from now, so concurrent puts evict with this one in mind.
    const entry: Entry = { size: bytes.length, mtime: Date.now() };
    this.#bytes += bytes.length;
    const tmp = join(this.dir, TMP_DIR, `${hash}.${process.pid}.${this.#tmpCounter++}`);
    this.#writing.add(hash);
    try {
      await writeFile(tmp, bytes);
      await rename(tmp, this.#path(hash));
    } catch (e) {
      this.#bytes -= bytes.length;
      await rm(tmp, { force: true }).catch(() => undefined);
      throw e;
    } finally {
      this.#writing.delete(hash);
    }
    this.#entries.delete(hash);
    this.#entries.set(hash, entry);
  }

  stats(): ChunkCacheStats {
    return { chunks: this.#entries.size, bytes: this.#bytes, maxBytes: this.maxBytes, corrupt: this.#corrupt, evicted: this.#evicted };
  }
}
