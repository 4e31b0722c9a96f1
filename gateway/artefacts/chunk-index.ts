// The chunk index in the metadata database: hash → (pack, offset, length), and the packs
// table. A pack's rows are committed in one transaction after its object is uploaded, so an
// indexed chunk is always readable from the object store.
import { and, asc, eq, gte, inArray, sql, TransactionRollbackError } from "drizzle-orm";
import type { MetadataDb } from "../db/database.ts";
import { chunks, packs } from "../db/schema.ts";
import { assertHoldsGcLock, assertPackCommittable, type ArtefactsCluster } from "./node-fence.ts";
import { packIdTime, type PackEntry } from "./pack-format.ts";

export interface ChunkLocation {
  readonly pack: string;
  readonly offset: number;
  readonly length: number;
}

export interface PackRow {
  readonly id: string;
  readonly objectKey: string;
  readonly bytes: number;
  readonly chunkCount: number;
  readonly createdAt: number;
}

/** One pack GC replaces, and its chunks to drop (64-hex hashes). */
export interface PackRewrite {
  readonly old: string;
  readonly dead: readonly string[];
}

export interface PackChunkRow extends PackEntry {
  readonly seenAt: number;
}

/** Hashes per IN (...) list and rows per INSERT: well under SQLite's bound-variable cap. */
const BATCH = 500;
const INSERT_ROWS = 150;

function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

type Tx = Parameters<Parameters<MetadataDb["transaction"]>[0]>[0];

/** The node whose commits a cluster's index fences; absent for one gateway alone. */
export type IndexFence = Pick<ArtefactsCluster, "node" | "incarnation">;

export class ChunkIndex {
  readonly #db: MetadataDb;
  readonly #fence: IndexFence | undefined;

  constructor(db: MetadataDb, fence?: IndexFence) {
    this.#db = db;
    this.#fence = fence;
  }

  /** The distinct hashes among `hashes` that are indexed; they are marked seen at `now` (GC grace). */
  async touchPresent(hashes: readonly string[], now: number): Promise<Set<string>> {
    const present = new Set<string>();
    for (const batch of batches([...new Set(hashes)], BATCH)) {
      const rows = await this.#db.update(chunks).set({ seenAt: now }).where(inArray(chunks.hash, batch)).returning({ hash: chunks.hash });
      for (const r of rows) present.add(r.hash);
    }
    return present;
  }

  async locateMany(hashes: readonly string[]): Promise<Map<string, ChunkLocation>> {
    const out = new Map<string, ChunkLocation>();
    for (const batch of batches([...new Set(hashes)], BATCH)) {
      const rows = await this.#db
        .select({ hash: chunks.hash, pack: chunks.pack, offset: chunks.offset, length: chunks.length })
        .from(chunks)
        .where(inArray(chunks.hash, batch));
      for (const r of rows) out.set(r.hash, { pack: r.pack, offset: r.offset, length: r.length });
    }
    return out;
  }

  /**
   * Commits an uploaded pack and its chunks; a chunk indexed meanwhile keeps its older location.
   * In a cluster: LEASE_LOST when this node is no longer its live incarnation, UNAVAILABLE past
   * the commit window (node-fence.ts); nothing is indexed then.
   */
  async commitPack(pack: PackRow, entries: readonly PackEntry[], now: number): Promise<number> {
    const fence = this.#fence;
    return this.#db.transaction(async (tx) => {
      if (fence) await assertPackCommittable(tx, fence, pack.id, packIdTime(pack.id));
      await tx.insert(packs).values(pack).onConflictDoNothing();
      let inserted = 0;
      for (const batch of batches(entries, INSERT_ROWS)) {
        const rows = await tx
          .insert(chunks)
          .values(batch.map((e) => ({ hash: e.hash, pack: pack.id, offset: e.offset, length: e.length, seenAt: now })))
          .onConflictDoNothing()
          .returning({ hash: chunks.hash });
        inserted += rows.length;
      }
      return inserted;
    });
  }

  async pack(id: string): Promise<PackRow | undefined> {
    const rows = await this.#db.select().from(packs).where(eq(packs.id, id));
    return rows[0];
  }

  async listPacks(): Promise<PackRow[]> {
    return this.#db.select().from(packs).orderBy(asc(packs.id));
  }

  async packChunks(pack: string): Promise<PackChunkRow[]> {
    return this.#db
      .select({ hash: chunks.hash, offset: chunks.offset, length: chunks.length, seenAt: chunks.seenAt })
      .from(chunks)
      .where(eq(chunks.pack, pack))
      .orderBy(asc(chunks.offset));
  }

  /** Deletes a pack row that no chunk row points at; false if some still do. */
  async dropEmptyPack(id: string): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      const left = await tx.select({ n: sql<number>`count(*)` }).from(chunks).where(eq(chunks.pack, id));
      if ((left[0]?.n ?? 0) > 0) return false;
      await tx.delete(packs).where(eq(packs.id, id));
      return true;
    });
  }

  async chunkCount(): Promise<number> {
    const rows = await this.#db.select({ n: sql<number>`count(*)` }).from(chunks);
    return rows[0]?.n ?? 0;
  }

  /** rewritePacks for one pack. */
  rewritePack(old: string, replacement: PackRow | null, moved: readonly PackEntry[], dead: readonly string[], cutoff: number): Promise<boolean> {
    return this.rewritePacks([{ old, dead }], replacement, moved, cutoff);
  }

  /**
   * Replaces the `old` packs by `replacement` (already uploaded, holding `moved`: every chunk of
   * the old packs that is not dead) and drops the dead chunks, atomically, unless a dead chunk was
   * seen at or after `cutoff` since GC looked (a concurrent upload relies on it) or an old pack
   * holds a chunk GC did not account for: then nothing changes and false is returned. In a
   * cluster it first checks this node holds the GC lock and may still commit the replacement
   * (node-fence.ts), and throws LEASE_LOST or UNAVAILABLE otherwise.
   */
  async rewritePacks(rewrites: readonly PackRewrite[], replacement: PackRow | null, moved: readonly PackEntry[], cutoff: number): Promise<boolean> {
    const olds = rewrites.map((r) => r.old);
    const fence = this.#fence;
    return this.#db
      .transaction(async (tx: Tx) => {
        if (fence) {
          await assertHoldsGcLock(tx, fence.node);
          if (replacement) await assertPackCommittable(tx, fence, replacement.id, packIdTime(replacement.id));
        }
        for (const { old, dead } of rewrites) {
          for (const batch of batches(dead, BATCH)) {
            const revived = await tx
              .select({ hash: chunks.hash })
              .from(chunks)
              .where(and(inArray(chunks.hash, batch), eq(chunks.pack, old), gte(chunks.seenAt, cutoff)))
              .limit(1);
            if (revived.length > 0) tx.rollback();
          }
        }
        if (replacement) {
          await tx.insert(packs).values(replacement);
          for (const e of moved) {
            await tx.update(chunks).set({ pack: replacement.id, offset: e.offset }).where(and(eq(chunks.hash, e.hash), inArray(chunks.pack, olds)));
          }
        }
        for (const { old, dead } of rewrites) {
          for (const batch of batches(dead, BATCH)) await tx.delete(chunks).where(and(inArray(chunks.hash, batch), eq(chunks.pack, old)));
          const left = await tx.select({ n: sql<number>`count(*)` }).from(chunks).where(eq(chunks.pack, old));
          if ((left[0]?.n ?? 0) > 0) tx.rollback();
          await tx.delete(packs).where(eq(packs.id, old));
        }
        return true;
      })
      .catch((e: unknown) => {
        if (e instanceof TransactionRollbackError) return false;
        throw e;
      });
  }
}
