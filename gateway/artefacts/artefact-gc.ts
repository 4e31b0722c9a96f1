// Artefact garbage collection. Live manifests: referenced by a retained record, held by a
// registered holder (checkpoints), or PUT within gcGraceMs. Live chunks: listed by a live manifest, or stored / reported present / touched by a
// manifest PUT within gcGraceMs. Dead manifests are deleted; packs holding enough dead chunks are
// rewritten and small packs merged (live chunks copied into a new pack, the index switched in one
// transaction that first re-checks the dead chunks were not touched meanwhile, then the old
// objects deleted).
// Pack objects without index rows older than the grace period are leftovers and deleted.
//
// In a cluster GC runs only on the holder of the cluster lock "artefact-gc" (gcAllowed), each
// rewrite commits only while it still holds it, and an unindexed pack object of any gateway is
// deleted only once it is past ORPHAN_MIN_AGE_MS by the database's clock, read before the index:
// no commit of it can still come (the proof is in node-fence.ts).
import { getLogger } from "@logtape/logtape";
import { sql } from "drizzle-orm";
import { isStrataError, StrataError } from "../../core/errors.ts";
import { FRAME_HEADER_BYTES } from "../../core/artefacts/chunk-frames.ts";
import { hexToBytes } from "../../core/util/hex.ts";
import type { MetadataDb } from "../db/database.ts";
import { manifests, packs } from "../db/schema.ts";
import type { ChunkStore } from "./chunk-store.ts";
import { Semaphore } from "../../core/util/concurrency.ts";
import type { PackChunkRow, PackRow } from "./chunk-index.ts";
import { databaseNowMs, GC_LOCK, gcLockHolder, ORPHAN_MIN_AGE_MS, type ArtefactsCluster } from "./node-fence.ts";
import { PACK_MAGIC, PACK_PREFIX, PackBuilder, packIdTime, packKey, parsePackKey } from "./pack-format.ts";
import type { ArtefactLimits } from "./artefact-limits.ts";
import type { ArtefactMetrics } from "./artefact-metrics.ts";
import type { ArtefactRefIndex, StartOffsetOf } from "./artefact-ref-index.ts";
import type { ManifestService } from "./manifest-service.ts";

const log = getLogger(["strata", "artefacts"]);

/**
 * Manifests another subsystem holds whatever references them (the shards of open and kept
 * checkpoints, gateway/jobs): read at every collection, and again under a manifest's lock
 * right before deleting it, so a hold taken while GC runs still saves the manifest.
 */
export type ManifestHolder = () => ReadonlySet<string>;

/** Packs smaller than packMaxBytes / this are merged by GC. */
const SMALL_PACK_DIVISOR = 4;

interface Candidate {
  readonly pack: PackRow;
  /** Hashes of the chunks to drop. */
  readonly dead: readonly string[];
  readonly keep: readonly PackChunkRow[];
  /** Bytes the kept chunks take in a new pack (frames included). */
  readonly keepBytes: number;
  /** Nothing to drop: only here to be merged with other small packs. */
  readonly clean: boolean;
}

export interface GcSummary {
  readonly manifests_live: number;
  readonly manifests_deleted: number;
  readonly chunks_live: number;
  readonly chunks_deleted: number;
  /** Old packs whose live chunks were copied into new packs (rewritten or merged). */
  readonly packs_rewritten: number;
  /** Old packs with nothing live left, and unindexed leftovers, deleted. */
  readonly packs_deleted: number;
  /** New packs written by rewrites and merges. */
  readonly packs_written: number;
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
  readonly #holders: ManifestHolder[] = [];
  readonly #cluster: ArtefactsCluster | undefined;

  constructor(db: MetadataDb, chunks: ChunkStore, manifestService: ManifestService, refs: ArtefactRefIndex, startOffsetOf: StartOffsetOf, limits: ArtefactLimits, metrics: ArtefactMetrics, cluster?: ArtefactsCluster) {
    this.#db = db;
    this.#cluster = cluster;
    this.#chunks = chunks;
    this.#manifests = manifestService;
    this.#refs = refs;
    this.#startOffsetOf = startOffsetOf;
    this.#limits = limits;
    this.#metrics = metrics;
  }

  /** Adds a source of held manifests (see ManifestHolder). */
  addHolder(holder: ManifestHolder): void {
    this.#holders.push(holder);
  }

  #isHeld(id: string): boolean {
    return this.#holders.some((held) => held().has(id));
  }

  /** False on a gateway of a cluster that does not hold the GC lock: run() would refuse. */
  allowed(): boolean {
    return this.#cluster === undefined || this.#cluster.gcAllowed();
  }

  /** One collection; concurrent calls run one after the other. In a cluster, NOT_LEADER unless this gateway holds the GC lock. */
  run(): Promise<GcSummary> {
    return this.#lock.run(async () => {
      if (!this.allowed()) {
        const holder = await gcLockHolder(this.#db).catch(() => undefined);
        const where = holder ? `node ${holder.node}${holder.url ? ` (${holder.url})` : ""} holds it now` : "no gateway holds it right now; retry shortly";
        throw new StrataError("NOT_LEADER", `artefact GC runs only on the gateway holding the cluster lock ${GC_LOCK}: ${where}`);
      }
      return this.#collect();
    });
  }

  /** Stops a collection before each deletion once the GC lock is no longer held here. */
  #assertAllowed(): void {
    if (!this.allowed()) throw new StrataError("LEASE_LOST", `this gateway (${this.#cluster?.node}) lost the cluster lock ${GC_LOCK} during a collection; the rest is left to the next holder`);
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
    const held = new Set(this.#holders.flatMap((holder) => [...holder()]));
    const dead = rows.filter((r) => !referenced.has(r.id) && !held.has(r.id) && r.uploadedAt < cutoff).map((r) => r.id);
    let manifestsDeleted = 0;
    for (const id of dead) {
      this.#assertAllowed();
      const deleted = await this.#manifests.lock.run(id, async () => {
        if (this.#isHeld(id)) return false;
        return this.#manifests.deleteStale(id, cutoff);
      });
      if (deleted) manifestsDeleted++;
    }

    // 2. Live chunks: every chunk of every remaining manifest.
    const liveChunks = new Set<string>();
    const remaining = await this.#db.select({ id: manifests.id }).from(manifests);
    for (const { id } of remaining) {
      // A row whose object is not there yet: a PUT in flight (row first, manifest-service.ts),
      // whose chunks its touch keeps for gcGraceMs; or a row a crash left without its object.
      const loaded = await this.#manifests.load(id).catch((e: unknown) => {
        if (!isStrataError(e) || e.code !== "NOT_FOUND") throw e;
        log.warn("GC: manifest {id} has a row but no object (an upload in flight, or cut short); its chunks are kept only by their grace period", { id });
        return undefined;
      });
      for (const h of loaded?.hexes ?? []) liveChunks.add(h);
    }

    // 3. Packs: rewrite those with enough dead bytes, and merge small ones, into new packs.
    const plan = await this.#plan(liveChunks, cutoff);
    let chunksDeleted = 0;
    let packsRewritten = 0;
    let packsDeleted = 0;
    let packsSkipped = 0;
    let packsWritten = 0;
    for (const group of plan) {
      this.#assertAllowed();
      const done = await this.#rewrite(group, cutoff);
      if (!done) {
        packsSkipped += group.length;
        continue;
      }
      if (done.wrote) packsWritten++;
      for (const c of group) {
        chunksDeleted += c.dead.length;
        if (c.keep.length > 0) packsRewritten++;
        else packsDeleted++;
      }
    }

    // 4. Pack objects nobody indexed (uploads or rewrites cut short), once past the grace period
    // and ORPHAN_MIN_AGE_MS. The clock is read before the index: that order is what makes the
    // deletion safe against a commit in flight (node-fence.ts).
    const now = await databaseNowMs(this.#db);
    const minAge = Math.max(this.#limits.gcGraceMs, ORPHAN_MIN_AGE_MS);
    const indexed = new Set((await this.#chunks.index.listPacks()).map((p) => p.id));
    const orphans: string[] = [];
    for await (const info of this.#chunks.store.list(PACK_PREFIX)) {
      const parsed = parsePackKey(info.key);
      if (parsed === undefined || indexed.has(parsed.id)) continue;
      if (now - packIdTime(parsed.id) > minAge) orphans.push(info.key);
    }
    if (orphans.length > 0) {
      this.#assertAllowed();
      await this.#chunks.store.deleteMany(orphans);
    }

    this.#metrics.gcRuns.inc();
    return {
      manifests_live: remaining.length,
      manifests_deleted: manifestsDeleted,
      chunks_live: await this.#chunks.index.chunkCount(),
      chunks_deleted: chunksDeleted,
      packs_rewritten: packsRewritten,
      packs_deleted: packsDeleted + orphans.length,
      packs_written: packsWritten,
      packs_skipped: packsSkipped,
      bytes_before: bytesBefore,
      bytes_after: await this.#packBytes(),
      ms: Date.now() - began,
    };
  }

  /**
   * Which packs to replace, in groups that each become one new pack of at most packMaxBytes: a
   * pack with no chunks, a pack whose dead share reaches gcRewriteMinDeadFraction, and packs
   * smaller than packMaxBytes / SMALL_PACK_DIVISOR (merged when there are at least two).
   */
  async #plan(liveChunks: ReadonlySet<string>, cutoff: number): Promise<Candidate[][]> {
    const candidates: Candidate[] = [];
    let smallClean = 0;
    for (const pack of await this.#chunks.index.listPacks()) {
      const entries = await this.#chunks.index.packChunks(pack.id);
      const dead = entries.filter((e) => !liveChunks.has(e.hash) && e.seenAt < cutoff);
      const keep = entries.filter((e) => liveChunks.has(e.hash) || e.seenAt >= cutoff);
      const deadBytes = dead.reduce((n, e) => n + e.length, 0);
      const keepBytes = keep.reduce((n, e) => n + e.length + FRAME_HEADER_BYTES, 0);
      const worthRewriting = keep.length === 0 || (dead.length > 0 && deadBytes >= this.#limits.gcRewriteMinDeadFraction * (deadBytes + keepBytes));
      const small = pack.bytes * SMALL_PACK_DIVISOR < this.#limits.packMaxBytes;
      if (!worthRewriting && !small) continue;
      if (!worthRewriting) smallClean++;
      candidates.push({ pack, dead: dead.map((e) => e.hash), keep, keepBytes, clean: !worthRewriting });
    }
    // One small pack with nothing dead has nothing to merge with: leave it.
    const chosen = smallClean >= 2 || candidates.some((c) => !c.clean) ? candidates : candidates.filter((c) => !c.clean);
    const groups: Candidate[][] = [];
    let group: Candidate[] = [];
    let bytes = PACK_MAGIC.length;
    for (const c of chosen) {
      if (group.length > 0 && bytes + c.keepBytes > this.#limits.packMaxBytes) {
        groups.push(group);
        group = [];
        bytes = PACK_MAGIC.length;
      }
      group.push(c);
      bytes += c.keepBytes;
    }
    if (group.length > 0) groups.push(group);
    // A lone clean pack in a group of its own would be copied for nothing.
    return groups.filter((g) => g.length > 1 || !g[0]!.clean);
  }

  /** Copies a group's live chunks into one new pack and switches the index; null when refused. */
  async #rewrite(group: readonly Candidate[], cutoff: number): Promise<{ wrote: boolean } | null> {
    const builder = new PackBuilder();
    for (const c of group) {
      for (const e of c.keep) builder.append(hexToBytes(e.hash), await this.#chunks.read(e.hash, { pack: c.pack.id, offset: e.offset, length: e.length }));
    }
    let row: PackRow | null = null;
    if (builder.entries.length > 0) {
      const bytes = builder.encode();
      // builder.id is read first here, once the pack is complete: its time starts the commit window.
      row = { id: builder.id, objectKey: packKey(builder.id, this.#chunks.layout), bytes: bytes.length, chunkCount: builder.entries.length, createdAt: Date.now() };
      await this.#chunks.store.put(row.objectKey, bytes);
      this.#chunks.reader.notePack(builder.id, row.objectKey, bytes.length);
      this.#metrics.packsUploaded.inc();
    }
    let switched: boolean;
    try {
      switched = await this.#chunks.index.rewritePacks(
        group.map((c) => ({ old: c.pack.id, dead: c.dead })),
        row,
        builder.entries,
        cutoff,
      );
    } catch (e) {
      // Fenced (the GC lock was lost, or the commit window passed): nothing was committed.
      if (row && isStrataError(e) && (e.code === "LEASE_LOST" || e.code === "UNAVAILABLE")) await this.#chunks.store.delete(row.objectKey);
      throw e;
    }
    if (!switched) {
      if (row) await this.#chunks.store.delete(row.objectKey);
      return null;
    }
    await this.#chunks.store.deleteMany(group.map((c) => c.pack.objectKey));
    for (const c of group) this.#chunks.reader.forgetPack(c.pack.id);
    this.#metrics.gcBytesReclaimed.inc({}, group.reduce((n, c) => n + c.pack.bytes, 0) - (row?.bytes ?? 0));
    return { wrote: row !== null };
  }
}
