// manifest_refs: which retained records reference which manifests. Filled by the LogService hook
// at append; read (and pruned of records retention removed) by GC.
import { and, eq, lt, sql } from "drizzle-orm";
import type { MetadataDb } from "../db/database.ts";
import { manifestRefs, partitions as partitionRows } from "../db/schema.ts";

/** A partition's first retained offset, or undefined when the stream or partition is gone. */
export type StartOffsetOf = (stream: string, partition: number) => number | undefined;

const INSERT_ROWS = 200;

export class ArtefactRefIndex {
  readonly #db: MetadataDb;

  constructor(db: MetadataDb) {
    this.#db = db;
  }

  async add(stream: string, partition: number, offset: number, manifestIds: readonly string[]): Promise<void> {
    for (let i = 0; i < manifestIds.length; i += INSERT_ROWS) {
      const rows = manifestIds.slice(i, i + INSERT_ROWS).map((manifest) => ({ stream, partition, offset, manifest }));
      await this.#db.insert(manifestRefs).values(rows).onConflictDoNothing();
    }
  }

  /** Drops refs of records retention removed, then returns the manifests still referenced. */
  async live(startOffsetOf: StartOffsetOf): Promise<Set<string>> {
    const partitions = await this.#db.selectDistinct({ stream: manifestRefs.stream, partition: manifestRefs.partition }).from(manifestRefs);
    // The start retention recorded in the shared partitions row: in a cluster the only one known
    // for a partition another gateway leads (whose local start this gateway reports as 0). Both
    // are lower bounds of the first retained offset, so the larger is too.
    const shared = new Map<string, number>();
    for (const r of await this.#db.select({ stream: partitionRows.stream, partition: partitionRows.partition, start: partitionRows.startOffset }).from(partitionRows)) {
      shared.set(`${r.stream}\u0000${r.partition}`, r.start);
    }
    for (const { stream, partition } of partitions) {
      const local = startOffsetOf(stream, partition);
      const start = local === undefined ? undefined : Math.max(local, shared.get(`${stream}\u0000${partition}`) ?? 0);
      const where = and(eq(manifestRefs.stream, stream), eq(manifestRefs.partition, partition));
      await this.#db.delete(manifestRefs).where(start === undefined ? where : and(where, lt(manifestRefs.offset, start)));
    }
    const rows = await this.#db.select({ manifest: sql<string>`distinct ${manifestRefs.manifest}` }).from(manifestRefs);
    return new Set(rows.map((r) => r.manifest));
  }
}
