// Manifests: PUT checks id, encoding and that every chunk is stored (409 MISSING_CHUNKS
// otherwise), then stores a row and the bytes as manifests/<id>.msgpack; GET serves them; a
// bytes-bounded cache keeps decoded manifests for artefact reads. A PUT and GC's deletion of
// the same manifest are serialized by a per-id lock in one gateway; across the gateways of a
// cluster (no shared lock) by the order of their steps (deleteStale).
import { getLogger } from "@logtape/logtape";
import { and, eq, lt } from "drizzle-orm";
import { blake3, bytesToHex } from "../../core/hashing/blake3.ts";
import { StrataError } from "../../core/errors.ts";
import { chunkOffsets, decodeManifest, type Manifest } from "../../core/artefacts/manifest.ts";
import type { MetadataDb } from "../db/database.ts";
import { manifests } from "../db/schema.ts";
import { WeightedLru } from "../../core/util/byte-lru.ts";
import type { ChunkStore } from "./chunk-store.ts";
import { SingleFlight } from "../../core/util/single-flight.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import type { ArtefactLimits } from "./artefact-limits.ts";
import { KeyedLock } from "../../core/util/keyed-lock.ts";

const log = getLogger(["strata", "artefacts"]);

const ID = /^[0-9a-f]{64}$/;
/** Memory of one cached manifest beyond its bytes: a hex id and an offset per chunk. */
const CACHE_BYTES_PER_CHUNK = 200;

export interface ManifestInfo {
  readonly id: string;
  readonly size: number;
  readonly mediaType: string;
  readonly chunks: number;
}

export type PutManifestResult =
  | { readonly outcome: "created" | "exists"; readonly info: ManifestInfo }
  | { readonly outcome: "missing"; readonly missing: string[]; readonly missingCount: number };

export interface LoadedManifest {
  readonly id: string;
  readonly bytes: Uint8Array;
  readonly manifest: Manifest;
  /** Chunk hashes as hex, in artefact order. */
  readonly hexes: readonly string[];
  /** Start offset of every chunk, then the size. */
  readonly offsets: Float64Array;
}

export function manifestKey(id: string): string {
  return `manifests/${id}.msgpack`;
}

export function checkManifestId(id: string): string {
  if (!ID.test(id)) throw new StrataError("BAD_REQUEST", "a manifest id is 64 lowercase hex characters");
  return id;
}

export class ManifestService {
  /** Per manifest id: held by PUT and by GC while it deletes that manifest. */
  readonly lock = new KeyedLock();
  readonly #db: MetadataDb;
  readonly #store: ObjectStore;
  readonly #chunks: ChunkStore;
  readonly #limits: ArtefactLimits;
  readonly #cache: WeightedLru<string, LoadedManifest>;
  readonly #loads = new SingleFlight<string, LoadedManifest>();

  constructor(db: MetadataDb, store: ObjectStore, chunks: ChunkStore, limits: ArtefactLimits) {
    this.#db = db;
    this.#store = store;
    this.#chunks = chunks;
    this.#limits = limits;
    this.#cache = new WeightedLru(limits.manifestCacheBytes, (m) => m.bytes.length + m.hexes.length * CACHE_BYTES_PER_CHUNK);
  }

  async put(id: string, bytes: Uint8Array): Promise<PutManifestResult> {
    checkManifestId(id);
    if (bytes.length > this.#limits.maxManifestBytes) throw new StrataError("PAYLOAD_TOO_LARGE", `manifest is ${bytes.length} bytes; the limit is ${this.#limits.maxManifestBytes}`);
    const actual = bytesToHex(blake3(bytes));
    if (actual !== id) throw new StrataError("HASH_MISMATCH", `the body hashes to ${actual}, not to the id in the path`);
    const manifest = decodeManifest(bytes, this.#limits);
    const hexes = manifest.chunks.map((c) => bytesToHex(c.hash));
    const info: ManifestInfo = { id, size: manifest.size, mediaType: manifest.mediaType, chunks: manifest.chunks.length };
    return this.lock.run(id, async () => {
      // Touching the chunks protects them from GC for the grace period, covering this PUT.
      const present = await this.#chunks.touch(hexes);
      const missing = [...new Set(hexes.filter((h) => !present.has(h)))];
      if (missing.length > 0) return { outcome: "missing", missing: missing.slice(0, this.#limits.maxMissingListed), missingCount: missing.length };
      const now = Date.now();
      const existing = await this.#db.update(manifests).set({ uploadedAt: now }).where(eq(manifests.id, id)).returning({ id: manifests.id });
      if (existing.length === 0) {
        await this.#db
          .insert(manifests)
          .values({ id, size: manifest.size, mediaType: manifest.mediaType, chunkCount: manifest.chunks.length, bytes: bytes.length, uploadedAt: now })
          .onConflictDoUpdate({ target: manifests.id, set: { uploadedAt: now } });
      }
      // The row first, then the object, on every PUT (an existing one too): what deleteStale
      // relies on when GC runs on another gateway; it also repairs a row whose object a crash
      // between the two writes left missing. The answer waits for both.
      await this.#store.put(manifestKey(id), bytes);
      this.#cache.set(id, { id, bytes, manifest, hexes, offsets: chunkOffsets(manifest) });
      return { outcome: existing.length > 0 ? "exists" : "created", info };
    });
  }

  async info(id: string): Promise<ManifestInfo> {
    checkManifestId(id);
    const rows = await this.#db.select().from(manifests).where(eq(manifests.id, id));
    const row = rows[0];
    if (!row) throw new StrataError("NOT_FOUND", `manifest ${id} is not stored`);
    return { id, size: row.size, mediaType: row.mediaType, chunks: row.chunkCount };
  }

  /** The manifest, decoded and validated (from the cache or the object store); NOT_FOUND if unknown. */
  async load(id: string): Promise<LoadedManifest> {
    checkManifestId(id);
    const cached = this.#cache.get(id);
    if (cached) return cached;
    return this.#loads.run(id, () => this.#loadFromStore(id));
  }

  async #loadFromStore(id: string): Promise<LoadedManifest> {
    await this.info(id);
    const bytes = await this.#store.get(manifestKey(id));
    if (bytesToHex(blake3(bytes)) !== id) throw new StrataError("CORRUPT_DATA", `stored manifest ${id} does not match its id`);
    const manifest = decodeManifest(bytes, this.#limits);
    const loaded: LoadedManifest = { id, bytes, manifest, hexes: manifest.chunks.map((c) => bytesToHex(c.hash)), offsets: chunkOffsets(manifest) };
    this.#cache.set(id, loaded);
    return loaded;
  }

  /**
   * GC's deletion of a manifest not PUT since `cutoff` (run under `lock`); false when it was.
   * Safe against a PUT on another gateway, which holds no lock here: the row goes first, on
   * condition, then the object; a PUT updates or re-inserts the row before writing the object.
   * A PUT whose row update came before our delete makes the delete miss (it is fresh). One whose
   * row came after it either wrote its object after our object delete, or before: then the row
   * is back when we look again after the delete, and we put the identical bytes back.
   */
  async deleteStale(id: string, cutoff: number): Promise<boolean> {
    const bytes = await this.load(id).then(
      (m) => m.bytes,
      () => undefined,
    );
    const gone = await this.#db.delete(manifests).where(and(eq(manifests.id, id), lt(manifests.uploadedAt, cutoff))).returning({ id: manifests.id });
    if (gone.length === 0) return false;
    this.#cache.delete(id);
    await this.#store.delete(manifestKey(id));
    const back = await this.#db.select({ id: manifests.id }).from(manifests).where(eq(manifests.id, id));
    if (back.length > 0) {
      if (bytes) await this.#store.put(manifestKey(id), bytes);
      else log.warn("manifest {id} was uploaded again while GC deleted it, and its old object was unreadable; a new PUT repairs it", { id });
    }
    return true;
  }
}
