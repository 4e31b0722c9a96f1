// Artefact garbage collection. Live manifests: referenced by a retained record, or PUT within
// gcGraceMs. Live chunks: listed by a live manifest, or stored / reported present / touched by a
// manifest PUT within gcGraceMs. Dead manifests are deleted; a pack holding dead chunks is
// rewritten (live chunks copied into a new pack, the index switched in one transaction that
// first re-checks the dead chunks were not touched meanwhile, then the old object deleted).
// Pack objects without index rows older than the grace period are leftovers and deleted.
import { and, eq, lt, sql } from "drizzle-orm";
import { hexToBytes } from "../../core/hex.ts";
import type { MetadataDb } from "../db/database.ts";
import { manifests, packs } from "../db/schema.ts";
import type { ChunkStore } from "../storage/chunk-store.ts";
import { Semaphore } from "../storage/concurrency.ts";
import { PACK_PREFIX, PackBuilder, packIdOf, packKey } from "../storage/pack-format.ts";
import type { ArtefactLimits } from "./artefact-limits.ts";
import type { ArtefactMetrics } from "./artefact-metrics.ts";
import type { ArtefactRefIndex, StartOffsetOf } from "./artefact-ref-index.ts";
import { manifestKey, type ManifestService } from "./manifest-service.ts";

/** Unindexed pack objects younger than this are never deleted, whatever the grace period (uploads in flight). */
const ORPHAN_MIN_AGE_MS = 10 * 60_000;

export interface GcSummary {
  readonly manifests_live: number;
  readonly manifests_deleted: number;
  readonly chunks_live: number;
  readonly chunks_deleted: number;
  readonly packs_rewritten: number;
  readonly packs_deleted: number;
  /** Packs left alone because a dead chunk was touched while GC ran. */
  readonly packs_skipped: number;
  /** Pack bytes in the object store before and after. */
  readonly bytes_before: number;
  readonly bytes_after: number;
  readonly ms: number;
}

export class ArtefactGc {
  readonly #lock = new Semaphore(1);
  readonly #db: MetadataDb;
  readonly #chunks: ChunkStore;
  readonly #manifests: ManifestService;
  readonly #refs: ArtefactRefIndex;
  readonly #startOffsetOf: StartOffsetOf;
  readonly #limits: ArtefactLimits;
  readonly #metrics: ArtefactMetrics;

  constructor(db: MetadataDb, chunks: ChunkStore, manifestService: ManifestService, refs: ArtefactRefIndex, startOffsetOf: StartOffsetOf, limits: ArtefactLimits, metrics: ArtefactMetrics) {
    this.#db = db;
    this.#chunks = chunks;
    this.#manifests = manifestService;
    this.#refs = refs;
    this.#startOffsetOf = startOffsetOf;
    this.#limits = limits;
    this.#metrics = metrics;
  }

  /** One collection; concurrent calls run one after the other. */
  run(): Promise<GcSummary> {
    return this.#lock.run(() => this.#collect());
  }

  async #packBytes(): Promise<number> {
    const rows = await this.#db.select({ n: sql<number>`coalesce(sum(${packs.bytes}), 0)` }).from(packs);
    return rows[0]?.n ?? 0;
  }

  async #collect(): Promise<GcSummary> {
    const began = Date.now();
    const cutoff = began - this.#limits.gcGraceMs;
    const bytesBefore = await this.#packBytes();

    // 1. Manifests.
    const referenced = await this.#refs.live(this.#startOffsetOf);
    const rows = await this.#db.select({ id: manifests.id, uploadedAt: manifests.uploadedAt }).from(manifests);
    const dead = rows.filter((r) => !referenced.has(r.id) && r.uploadedAt < cutoff).map((r) => r.id);
    let manifestsDeleted = 0;
    for (const id of dead) {
      const deleted = await this.#manifests.lock.run(id, async () => {
        const gone = await this.#db.delete(manifests).where(and(eq(manifests.id, id), lt(manifests.uploadedAt, cutoff))).returning({ id: manifests.id });
        if (gone.length === 0) return false;
        this.#manifests.forget(id);
        await this.#chunks.store.delete(manifestKey(id));
        return true;
      });
      if (deleted) manifestsDeleted++;
    }

    // 2. Live chunks: every chunk of every remaining manifest.
    const liveChunks = new Set<string>();
    const remaining = await this.#db.select({ id: manifests.id }).from(manifests);
    for (const { id } of remaining) for (const h of (await this.#manifests.load(id)).hexes) liveChunks.add(h);

    // 3. Packs.
    let chunksDeleted = 0;
    let packsRewritten = 0;
    let packsDeleted = 0;
    let packsSkipped = 0;
    for (const pack of await this.#chunks.index.listPacks()) {
      const entries = await this.#chunks.index.packChunks(pack.id);
      const deadEntries = entries.filter((e) => !liveChunks.has(e.hash) && e.seenAt < cutoff);
      const keep = entries.filter((e) => liveChunks.has(e.hash) || e.seenAt >= cutoff);
      if (entries.length > 0 && deadEntries.length === 0) continue;
      const deadBytes = deadEntries.reduce((n, e) => n + e.length, 0);
      const allBytes = entries.reduce((n, e) => n + e.length, 0);
      if (keep.length > 0 && deadBytes < this.#limits.gcRewriteMinDeadFraction * allBytes) continue;
      let replacement: PackBuilder | null = null;
      if (keep.length > 0) {
        replacement = new PackBuilder();
        for (const e of keep) replacement.append(hexToBytes(e.hash), await this.#chunks.read(e.hash, { pack: pack.id, offset: e.offset, length: e.length }));
      }
      const now = Date.now();
      let replacementRow = null;
      if (replacement) {
        const bytes = replacement.encode();
        replacementRow = { id: replacement.id, objectKey: packKey(replacement.id), bytes: bytes.length, chunkCount: replacement.entries.length, createdAt: now };
        await this.#chunks.store.put(replacementRow.objectKey, bytes);
        this.#chunks.reader.notePackSize(replacement.id, bytes.length);
        this.#metrics.packsUploaded.inc();
      }
      const switched = await this.#chunks.index.rewritePack(pack.id, replacementRow, replacement?.entries ?? [], deadEntries.map((e) => e.hash), cutoff);
      if (!switched) {
        if (replacementRow) await this.#chunks.store.delete(replacementRow.objectKey);
        packsSkipped++;
        continue;
      }
      await this.#chunks.store.delete(pack.objectKey);
      this.#chunks.reader.forgetPack(pack.id);
      this.#metrics.gcBytesReclaimed.inc({}, pack.bytes - (replacementRow?.bytes ?? 0));
      chunksDeleted += deadEntries.length;
      if (replacement) packsRewritten++;
      else packsDeleted++;
    }

    // 4. Pack objects nobody indexed (uploads or rewrites cut short), once past the grace period.
    const indexed = new Set((await this.#chunks.index.listPacks()).map((p) => p.id));
    const orphans: string[] = [];
    for await (const info of this.#chunks.store.list(PACK_PREFIX)) {
      const id = packIdOf(info.key);
      if (id === undefined || indexed.has(id)) continue;
      if (parseInt(id.slice(0, 16), 16) < Math.min(cutoff, began - ORPHAN_MIN_AGE_MS)) orphans.push(info.key);
    }
    if (orphans.length > 0) await this.#chunks.store.deleteMany(orphans);

    this.#metrics.gcRuns.inc();
    return {
      manifests_live: remaining.length,
      manifests_deleted: manifestsDeleted,
      chunks_live: await this.#chunks.index.chunkCount(),
      chunks_deleted: chunksDeleted,
      packs_rewritten: packsRewritten,
      packs_deleted: packsDeleted + orphans.length,
      packs_skipped: packsSkipped,
      bytes_before: bytesBefore,
      bytes_after: await this.#packBytes(),
      ms: Date.now() - began,
    };
  }
}
