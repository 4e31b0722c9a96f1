// A local content-addressed chunk cache stored as a few large append-only pack files, each with
// an index file beside it (`<dir>/<name>.pack`, `<dir>/<name>.idx`; format in pack-index.ts),
// bounded in bytes with least-recently-used eviction of whole packs (a pack holds at most 1/8 of
// the bound, so eviction stays fine-grained). One process appends to a pack; any process reads
// any pack, so several may share a directory (a pack another one evicted reads as missing).
//
// Crash safety (kill -9 and power loss): a chunk's index entry is appended only after the write
// of its bytes returned, so after a kill -9 every entry names bytes that are in the file (the
// page cache outlives the process). Bytes are trusted without hashing only below a `synced`
// mark, which is appended after an fdatasync of the pack (when a pack is full and at close());
// any other entry (a writer that was killed, or a power loss before the mark) is hashed on its
// first read, and a mismatch drops it and counts it corrupt. So no verified chunk is lost to a
// kill -9 after its put returned, and no byte is served that was not verified on receipt or on
// its first read since. A torn index record fails its CRC and is skipped.
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { utimes } from "node:fs/promises";
import { join } from "node:path";
import { blake3 } from "../../core/hashing/blake3.ts";
import { invariant, StrataError } from "../../core/errors.ts";
import { bytesToHex, hexToBytes } from "../../core/util/hex.ts";
import { uninitialized } from "../../core/util/buffers.ts";
import { equalBytes } from "../../core/util/equal-bytes.ts";
import { HARD_LIMITS } from "./limits.ts";
import { dataSync, readAt, writeAt } from "./fd-io.ts";
import { entryRecord, INDEX_RECORD_BYTES, parseIndex, syncedRecord } from "./pack-index.ts";

const HASH_HEX = /^[0-9a-f]{64}$/;
const PACK_NAME = /^([0-9a-z]+-[0-9]+-[0-9a-z]+)\.(pack|idx)$/;
/** The largest pack (also at most 1/8 of the cache's bound). */
const MAX_PACK_BYTES = 256 * 1024 * 1024;
/** A pack's mtime is refreshed on use only when older than this: recency across restarts need not be exact. */
const TOUCH_AFTER_MS = 10 * 60 * 1000;
/** A pack or index without its partner older than this is from a process that died creating it. */
const STALE_ORPHAN_MS = 10 * 60 * 1000;

interface Pack {
  readonly name: string;
  /** Bytes the pack occupies (for the writer's pack: bytes reserved so far). */
  bytes: number;
  /** Last use or mtime (ms): recency across restarts. */
  mtime: number;
  /** Read descriptor, opened on first read. */
  fd: number | null;
  readonly hexes: Set<string>;
}

interface Entry {
  readonly pack: Pack;
  readonly offset: number;
  readonly length: number;
  /** Trusted without hashing: below a synced mark, written by this process, or hashed on a read. */
  verified: boolean;
}

/** The pack this process appends to: none yet, or open with its descriptors and reservations. */
type Writer =
  | { readonly state: "none" }
  | { readonly state: "open"; readonly pack: Pack; readonly fd: number; readonly idxFd: number; idxBytes: number; writes: Set<Promise<void>> };

export interface ChunkCacheStats {
  readonly chunks: number;
  /** Bytes the pack files occupy (what the bound limits). */
  readonly bytes: number;
  /** Bytes of the chunks indexed (pack bytes minus dropped and unfinished writes). */
  readonly chunkBytes: number;
  readonly maxBytes: number;
  /** Chunks found corrupt on read and dropped since the cache was opened. */
  readonly corrupt: number;
  readonly evicted: number;
  /** Reads that hashed the chunk (entries not covered by a synced mark). */
  readonly hashedReads: number;
  readonly packs: number;
}

let nameCounter = 0;

export class ChunkCache {
  readonly dir: string;
  readonly maxBytes: number;
  readonly packMaxBytes: number;
  /** hash hex → entry. */
  readonly #entries = new Map<string, Entry>();
  /** pack name → pack, least recently used first. */
  readonly #packs = new Map<string, Pack>();
  #bytes = 0;
  #corrupt = 0;
  #evicted = 0;
  #hashedReads = 0;
  #writer: Writer = { state: "none" };
  /** Syncs of full packs still running (close() waits for them). */
  readonly #sealing = new Set<Promise<void>>();
  /** Hashes being written by this process. */
  readonly #writing = new Set<string>();
  #closed = false;

  private constructor(dir: string, maxBytes: number) {
    this.dir = dir;
    this.maxBytes = maxBytes;
    this.packMaxBytes = Math.max(1, Math.min(MAX_PACK_BYTES, Math.floor(maxBytes / 8)));
  }

  /** Opens (creating) the cache in `dir`, indexing what is there and evicting down to `maxBytes`. */
  static open(dir: string, maxBytes: number): ChunkCache {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new StrataError("BAD_REQUEST", `chunk cache size must be a non-negative integer, got ${String(maxBytes)}`);
    const cache = new ChunkCache(dir, maxBytes);
    cache.#load();
    cache.#evict(0);
    return cache;
  }

  #load(): void {
    mkdirSync(this.dir, { recursive: true });
    const now = Date.now();
    const names = new Map<string, Set<string>>();
    for (const file of readdirSync(this.dir)) {
      // The one-file-per-chunk layout of earlier versions (`xx/<hash>`, `tmp/`) is not read any more.
      if (/^[0-9a-f]{2}$/.test(file) || file === "tmp") rmSync(join(this.dir, file), { recursive: true, force: true });
      const m = PACK_NAME.exec(file);
      if (!m) continue;
      const kinds = names.get(m[1]!) ?? new Set<string>();
      kinds.add(m[2]!);
      names.set(m[1]!, kinds);
    }
    const found: { pack: Pack; chunks: ReturnType<typeof parseIndex> }[] = [];
    for (const [name, kinds] of names) {
      try {
        if (kinds.size < 2) {
          const only = join(this.dir, `${name}.${[...kinds][0]!}`);
          if (now - statSync(only).mtimeMs > STALE_ORPHAN_MS) rmSync(only, { force: true });
          continue;
        }
        const st = statSync(this.#path(name, "pack"));
        const chunks = parseIndex(readFileSync(this.#path(name, "idx")), st.size, HARD_LIMITS.maxChunkBytes);
        found.push({ pack: { name, bytes: st.size, mtime: st.mtimeMs, fd: null, hexes: new Set() }, chunks });
      } catch {
        // removed meanwhile by another process
      }
    }
    found.sort((a, b) => a.pack.mtime - b.pack.mtime);
    for (const { pack, chunks } of found) {
      this.#packs.set(pack.name, pack);
      this.#bytes += pack.bytes;
      for (const c of chunks) {
        const hex = bytesToHex(c.hash);
        this.#forget(hex);
        this.#entries.set(hex, { pack, offset: c.offset, length: c.length, verified: c.synced });
        pack.hexes.add(hex);
      }
    }
  }

  #path(name: string, kind: "pack" | "idx"): string {
    return join(this.dir, `${name}.${kind}`);
  }

  #forget(hex: string): void {
    const entry = this.#entries.get(hex);
    if (!entry) return;
    this.#entries.delete(hex);
    entry.pack.hexes.delete(hex);
  }

  /** Removes a pack and its entries (its bytes no longer count). */
  #dropPack(pack: Pack): void {
    invariant(this.#writer.state === "none" || this.#writer.pack !== pack, "the pack being written is never dropped");
    for (const hex of pack.hexes) this.#entries.delete(hex);
    pack.hexes.clear();
    this.#packs.delete(pack.name);
    this.#bytes -= pack.bytes;
    if (pack.fd !== null) closeSync(pack.fd);
    pack.fd = null;
    rmSync(this.#path(pack.name, "pack"), { force: true });
    rmSync(this.#path(pack.name, "idx"), { force: true });
  }

  /** Evicts least recently used packs until `incoming` more bytes fit; false when they cannot. */
  #evict(incoming: number): boolean {
    for (const pack of [...this.#packs.values()]) {
      if (this.#bytes + incoming <= this.maxBytes) return true;
      if (this.#writer.state === "open" && this.#writer.pack === pack) continue;
      this.#dropPack(pack);
      this.#evicted++;
    }
    return this.#bytes + incoming <= this.maxBytes;
  }

  #touch(pack: Pack): void {
    this.#packs.delete(pack.name);
    this.#packs.set(pack.name, pack);
    const now = Date.now();
    if (now - pack.mtime < TOUCH_AFTER_MS) return;
    pack.mtime = now;
    // Recency for the next process; a pack evicted by another process meanwhile is no error.
    const at = new Date(now);
    utimes(this.#path(pack.name, "pack"), at, at).catch(() => undefined);
  }

  /** Whether the index holds `hash` with `length` bytes (`get` may still find it gone or corrupt). */
  has(hash: string, length?: number): boolean {
    const entry = this.#entries.get(hash);
    return entry !== undefined && (length === undefined || entry.length === length);
  }

  /**
   * The chunk's bytes (trusted, or verified against its hash on this read); null when absent,
   * unreadable, or corrupt (then dropped and counted in stats().corrupt).
   */
  async get(hash: string): Promise<Uint8Array | null> {
    const entry = this.#entries.get(hash);
    if (!entry) return null;
    const bytes = uninitialized(entry.length);
    try {
      if (entry.pack.fd === null) entry.pack.fd = openSync(this.#path(entry.pack.name, "pack"), "r");
      if (!(await readAt(entry.pack.fd, bytes, entry.offset))) throw new Error("short pack");
    } catch {
      if (this.#entries.get(hash) === entry) this.#forget(hash);
      return null;
    }
    if (!entry.verified) {
      this.#hashedReads++;
      if (!equalBytes(blake3(bytes), hexToBytes(hash))) {
        if (this.#entries.get(hash) === entry) this.#forget(hash);
        this.#corrupt++;
        return null;
      }
      entry.verified = true;
    }
    if (this.#packs.has(entry.pack.name)) this.#touch(entry.pack);
    return bytes;
  }

  /** The open writer, rolling to a new pack when `incoming` does not fit the current one. */
  #writerFor(incoming: number): Writer & { state: "open" } {
    const w = this.#writer;
    if (w.state === "open" && (w.pack.bytes === 0 || w.pack.bytes + incoming <= this.packMaxBytes)) return w;
    if (w.state === "open") this.#seal(w);
    const name = `${Date.now().toString(36)}-${process.pid}-${(nameCounter++).toString(36)}`;
    // Index first: a pack file is never without its index (an orphan index is swept later).
    const idxFd = openSync(this.#path(name, "idx"), "wx", 0o644);
    const fd = openSync(this.#path(name, "pack"), "wx+", 0o644);
    const pack: Pack = { name, bytes: 0, mtime: Date.now(), fd: null, hexes: new Set() };
    this.#packs.set(name, pack);
    const opened: Writer & { state: "open" } = { state: "open", pack, fd, idxFd, idxBytes: 0, writes: new Set() };
    this.#writer = opened;
    return opened;
  }

  /** Stops appending to `w`'s pack: once its writes finish it is fdatasync'ed and marked synced. */
  #seal(w: Writer & { state: "open" }): void {
    this.#writer = { state: "none" };
    const done = (async () => {
      await Promise.allSettled([...w.writes]);
      try {
        await dataSync(w.fd);
        await writeAt(w.idxFd, syncedRecord(w.pack.bytes), w.idxBytes);
        w.idxBytes += INDEX_RECORD_BYTES;
      } finally {
        closeSync(w.fd);
        closeSync(w.idxFd);
      }
    })();
    const tracked = done.catch(() => undefined).finally(() => this.#sealing.delete(tracked));
    this.#sealing.add(tracked);
  }

  /**
   * Stores a chunk whose hash the caller has verified: its bytes appended to this process's
   * pack, then its index entry. Not fsynced here (see the header). A chunk that does not fit
   * the bound even after eviction is not stored.
   */
  async put(hash: string, bytes: Uint8Array): Promise<void> {
    if (!HASH_HEX.test(hash)) throw new StrataError("BAD_REQUEST", `chunk cache: not a hash: ${hash}`);
    if (this.#closed) throw new StrataError("INTERNAL", "chunk cache: put after close");
    const existing = this.#entries.get(hash);
    if (existing && existing.length === bytes.length) {
      this.#touch(existing.pack);
      return;
    }
    if (bytes.length === 0 || bytes.length > this.maxBytes || this.#writing.has(hash)) return;
    if (existing) this.#forget(hash);
    const w = this.#writerFor(bytes.length);
    if (!this.#evict(bytes.length)) return;
    const offset = w.pack.bytes;
    w.pack.bytes += bytes.length;
    this.#bytes += bytes.length;
    this.#writing.add(hash);
    const write = (async () => {
      await writeAt(w.fd, bytes, offset);
      const at = w.idxBytes;
      w.idxBytes += INDEX_RECORD_BYTES;
      await writeAt(w.idxFd, entryRecord(hexToBytes(hash), offset, bytes.length), at);
    })();
    w.writes.add(write);
    try {
      await write;
    } finally {
      w.writes.delete(write);
      this.#writing.delete(hash);
    }
    if (!this.#packs.has(w.pack.name)) return; // evicted meanwhile (a pack only this small cache held)
    this.#entries.set(hash, { pack: w.pack, offset, length: bytes.length, verified: true });
    w.pack.hexes.add(hash);
    this.#touch(w.pack);
  }

  /** Syncs and marks the pack being written and closes every descriptor. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#writer.state === "open") this.#seal(this.#writer);
    while (this.#sealing.size > 0) await Promise.all([...this.#sealing]);
    for (const pack of this.#packs.values()) {
      if (pack.fd !== null) closeSync(pack.fd);
      pack.fd = null;
    }
  }

  stats(): ChunkCacheStats {
    let chunkBytes = 0;
    for (const e of this.#entries.values()) chunkBytes += e.length;
    return { chunks: this.#entries.size, bytes: this.#bytes, chunkBytes, maxBytes: this.maxBytes, corrupt: this.#corrupt, evicted: this.#evicted, hashedReads: this.#hashedReads, packs: this.#packs.size };
  }
}
