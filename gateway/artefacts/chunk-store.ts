// The content-addressed chunk store: global dedup through the index, uploads packed by the
// PackWriter, reads through the PackReader, every chunk verified against its hash on the way
// in and once per trip of its pack block into the gateway's caches: the first read of a chunk
// from a block fetched from the object store hashes it, and later reads of that cached copy
// (memory, or disk guarded by its CRC-32: pack-reader.ts) serve it without hashing again. A chunk
// spanning blocks is assembled into a fresh buffer; those are kept in a bytes-bounded memory
// cache of verified chunks. At open, pack objects without index rows (an upload cut short
// between its put and its commit) are verified and indexed: in a cluster only this node's own
// (packs/<node>/), and only within the commit window (node-fence.ts), never another gateway's
// uploads in flight.
import { getLogger } from "@logtape/logtape";
import { join } from "node:path";
import { blake3, bytesToHex } from "../../core/hashing/blake3.ts";
import { isStrataError, StrataError } from "../../core/errors.ts";
import type { MetadataDb } from "../db/database.ts";
import type { ArtefactLimits } from "./artefact-limits.ts";
import type { ArtefactMetrics } from "./artefact-metrics.ts";
import { ByteLru } from "../../core/util/byte-lru.ts";
import { ChunkIndex, type ChunkLocation } from "./chunk-index.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import { databaseNowMs, PACK_COMMIT_WINDOW_MS, type ArtefactsCluster } from "./node-fence.ts";
import { packIdTime, packPrefix, parsePackKey, scanPack, SINGLE_GATEWAY_LAYOUT, type PackLayout } from "./pack-format.ts";
import { PackReader, type PackRange } from "./pack-reader.ts";
import { PackWriter, type VerifiedChunk } from "./pack-writer.ts";
import { equalBytes } from "../../core/util/equal-bytes.ts";

const log = getLogger(["strata", "artefacts"]);

export interface ChunkUpload {
  readonly hash: Uint8Array;
  readonly data: Uint8Array;
}

export interface PutResult {
  readonly stored: number;
  readonly existing: number;
}

export interface ChunkStoreOptions {
  readonly db: MetadataDb;
  readonly store: ObjectStore;
  readonly dataDir: string;
  readonly limits: ArtefactLimits;
  readonly metrics: ArtefactMetrics;
  /** Cluster mode: packs under packs/<node>/, commits fenced by the node's incarnation. */
  readonly cluster?: Pick<ArtefactsCluster, "node" | "incarnation"> | undefined;
}

/** Hashes located per index query while streaming a long sequence. */
const LOCATE_BATCH = 512;


export class ChunkStore {
  readonly index: ChunkIndex;
  readonly reader: PackReader;
  readonly store: ObjectStore;
  readonly layout: PackLayout;
  readonly #db: MetadataDb;
  readonly #cluster: ChunkStoreOptions["cluster"];
  readonly #writer: PackWriter;
  readonly #limits: ArtefactLimits;
  readonly #metrics: ArtefactMetrics;
  /** Verified chunks that span pack blocks (assembled copies): hex → bytes. */
  readonly #verified: ByteLru<string>;

  private constructor(options: ChunkStoreOptions, index: ChunkIndex, reader: PackReader) {
    this.index = index;
    this.reader = reader;
    this.store = options.store;
    this.#db = options.db;
    this.#cluster = options.cluster;
    this.layout = options.cluster ? { kind: "node", node: options.cluster.node } : SINGLE_GATEWAY_LAYOUT;
    this.#limits = options.limits;
    this.#metrics = options.metrics;
    this.#verified = new ByteLru(options.limits.chunkCacheBytes);
    this.#writer = new PackWriter(options.store, index, options.limits, options.metrics, this.layout, (pack, key, bytes) => reader.notePack(pack, key, bytes));
  }

  static async open(options: ChunkStoreOptions): Promise<ChunkStore> {
    const index = new ChunkIndex(options.db, options.cluster);
    const reader = await PackReader.open({ store: options.store, index, cacheDir: join(options.dataDir, "pack-cache"), limits: options.limits, metrics: options.metrics });
    const store = new ChunkStore(options, index, reader);
    await store.#recoverUnindexedPacks();
    return store;
  }

  /** The requested hashes not held (order and duplicates kept); held ones are marked seen. */
  async missing(hexes: readonly string[]): Promise<string[]> {
    const present = await this.index.touchPresent(hexes, Date.now());
    return hexes.filter((h) => !present.has(h) && this.#writer.pendingFor(h) === undefined);
  }

  /** Marks indexed chunks seen now (GC grace) and returns the distinct ones held. */
  touch(hexes: readonly string[]): Promise<Set<string>> {
    return this.index.touchPresent(hexes, Date.now());
  }

  /** Verifies every chunk first (any mismatch stores nothing), then stores the new ones durably. */
  async put(chunks: readonly ChunkUpload[]): Promise<PutResult> {
    const l = this.#limits;
    if (chunks.length > l.maxChunksPerRequest) throw new StrataError("BATCH_TOO_LARGE", `${chunks.length} chunks; the limit is ${l.maxChunksPerRequest} per request`);
    const verified = new Map<string, VerifiedChunk>();
    chunks.forEach((c, i) => {
      if (!(c.hash instanceof Uint8Array) || c.hash.length !== 32) throw new StrataError("BAD_REQUEST", `chunks[${i}]: hash must be 32 bytes`);
      if (!(c.data instanceof Uint8Array) || c.data.length < 1) throw new StrataError("BAD_REQUEST", `chunks[${i}]: data must be 1 or more bytes`);
      if (c.data.length > l.maxChunkBytes) throw new StrataError("RECORD_TOO_LARGE", `chunks[${i}] is ${c.data.length} bytes; the limit is ${l.maxChunkBytes}`);
      if (!equalBytes(blake3(c.data), c.hash)) throw new StrataError("HASH_MISMATCH", `chunks[${i}]: the data does not hash to ${bytesToHex(c.hash)}`);
      const hex = bytesToHex(c.hash);
      if (!verified.has(hex)) verified.set(hex, { hash: c.hash, hex, data: c.data });
    });
    const present = await this.index.touchPresent([...verified.keys()], Date.now());
    const fresh: VerifiedChunk[] = [];
    const waits: Promise<void>[] = [];
    for (const [hex, c] of verified) {
      if (present.has(hex)) continue;
      const pending = this.#writer.pendingFor(hex);
      if (pending) waits.push(pending);
      else fresh.push(c);
    }
    if (fresh.length > 0) waits.push(this.#writer.add(fresh));
    await Promise.all(waits);
    const existing = chunks.length - fresh.length;
    this.#metrics.chunksDeduplicated.inc({}, existing);
    return { stored: fresh.length, existing };
  }

  /** Locates every hash; the first unknown one is NOT_FOUND. */
  async locateAll(hexes: readonly string[]): Promise<Map<string, ChunkLocation>> {
    const found = await this.index.locateMany(hexes);
    for (const h of hexes) if (!found.has(h)) throw new StrataError("NOT_FOUND", `chunk ${h} is not stored`);
    return found;
  }

  /**
   * A chunk's bytes, verified against its hash. A location gone stale (GC moved the chunk and
   * deleted its old pack) is looked up again; a verification failure drops the cached blocks
   * and reads the object store once more before giving up with CORRUPT_DATA.
   */
  async read(hex: string, location: ChunkLocation): Promise<Uint8Array> {
    const cached = this.#verified.get(hex);
    if (cached) {
      this.#metrics.cacheHits.inc({ tier: "chunk" });
      this.#metrics.chunksServed.inc();
      return cached;
    }
    let loc = location;
    for (let attempt = 0; ; attempt++) {
      let range: PackRange;
      try {
        range = await this.reader.read(loc, attempt > 0);
      } catch (e) {
        if (attempt > 0 || !isStrataError(e) || e.code !== "NOT_FOUND") throw e;
        const fresh = (await this.index.locateMany([hex])).get(hex);
        if (!fresh) throw new StrataError("NOT_FOUND", `chunk ${hex} is no longer stored`);
        loc = fresh;
        continue;
      }
      const { bytes } = range;
      if (range.verified) {
        this.#metrics.chunksServed.inc();
        return bytes;
      }
      this.#metrics.chunksHashed.inc();
      if (bytesToHex(blake3(bytes)) === hex) {
        this.#metrics.chunksServed.inc();
        range.markVerified();
        // Only assembled copies: a view of one block is served again from the block caches, and
        // keeping it here would hold its whole block alive outside their bounds.
        if (!this.reader.withinOneBlock(loc)) this.#verified.set(hex, bytes);
        return bytes;
      }
      this.reader.evict(loc);
      if (attempt > 0) throw new StrataError("CORRUPT_DATA", `chunk ${hex} in pack ${loc.pack} does not match its hash`);
    }
  }

  /**
   * Reads `hexes` in order with up to readAheadBytes (and readAheadChunks) of reads in flight, so
   * the GETs of the next pack blocks overlap the sending of this one; locates the hashes in
   * batches as it goes (bounded memory for any length). `known` holds locations looked up already.
   */
  async *readSequence(hexes: readonly string[], known?: Map<string, ChunkLocation>): AsyncGenerator<Uint8Array> {
    const { readAheadBytes, readAheadChunks } = this.#limits;
    const locations = new Map<string, ChunkLocation>();
    let located = 0;
    const inFlight: { bytes: Promise<Uint8Array>; length: number }[] = [];
    let inFlightBytes = 0;
    let next = 0;
    const start = async (): Promise<void> => {
      while (next < hexes.length && inFlight.length < readAheadChunks && (inFlight.length === 0 || inFlightBytes < readAheadBytes)) {
        if (next >= located) {
          const batch = hexes.slice(located, located + LOCATE_BATCH);
          const missing = known ? batch.filter((h) => !known.has(h)) : batch;
          const found = missing.length > 0 ? await this.locateAll(missing) : new Map<string, ChunkLocation>();
          locations.clear();
          for (const h of batch) locations.set(h, known?.get(h) ?? found.get(h)!);
          located += batch.length;
        }
        const hex = hexes[next++]!;
        const loc = locations.get(hex)!;
        const bytes = this.read(hex, loc);
        bytes.catch(() => undefined);
        inFlight.push({ bytes, length: loc.length });
        inFlightBytes += loc.length;
      }
    };
    await start();
    while (inFlight.length > 0) {
      const head = inFlight.shift()!;
      const bytes = await head.bytes;
      inFlightBytes -= head.length;
      await start();
      yield bytes;
    }
  }

  async close(): Promise<void> {
    await this.#writer.close();
    await this.reader.close();
  }

  async #recoverUnindexedPacks(): Promise<void> {
    const indexed = new Set((await this.index.listPacks()).map((p) => p.id));
    // In a cluster a pack past its commit window is GC's, and its commit would be refused anyway.
    const dbNow = this.#cluster ? await databaseNowMs(this.#db) : undefined;
    for await (const info of this.store.list(packPrefix(this.layout))) {
      const parsed = parsePackKey(info.key);
      if (parsed === undefined || indexed.has(parsed.id)) continue;
      // The single layout's prefix lists every node's packs too: those are never this gateway's.
      if (parsed.node !== (this.layout.kind === "node" ? this.layout.node : undefined)) continue;
      const id = parsed.id;
      if (dbNow !== undefined && dbNow - packIdTime(id) >= PACK_COMMIT_WINDOW_MS) {
        log.info("chunk store: pack {key} is past its commit window; it is left for GC", { key: info.key });
        continue;
      }
      try {
        const bytes = await this.store.get(info.key);
        const entries = scanPack(bytes, this.#limits.maxChunkBytes);
        const now = Date.now();
        const inserted = await this.index.commitPack({ id, objectKey: info.key, bytes: bytes.length, chunkCount: entries.length, createdAt: now }, entries, now);
        // Every chunk indexed elsewhere already (the old pack of a GC rewrite whose delete was cut
        // short, or a duplicate upload): the pack is redundant.
        if (inserted === 0 && (await this.index.dropEmptyPack(id))) await this.store.delete(info.key);
      } catch (e) {
        log.error("chunk store: cannot recover pack {key}; it is left for GC: {error}", { key: info.key, error: e });
      }
    }
  }
}
