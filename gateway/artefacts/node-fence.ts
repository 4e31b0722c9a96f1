// The artefact engine in a cluster (docs/cluster.md): what it is handed (node, incarnation, whether
// it may run GC) and the checks that fence its commits, run inside the commit's own transaction
// and judged by the database's clock.
//
// Why GC may delete an unindexed pack object without racing its commit: every pack commit in a
// cluster (an upload, start-up recovery, a GC rewrite) checks, in its transaction, that the pack's
// id time is less than PACK_COMMIT_WINDOW_MS behind the database's clock. GC deletes an unindexed
// pack only when, read BEFORE it reads the index, the database's clock is more than
// ORPHAN_MIN_AGE_MS past the id time. A commit that passed its check therefore committed (or
// died) more than ORPHAN_MIN_AGE_MS - PACK_COMMIT_WINDOW_MS before GC looked, so GC's index read
// sees it; one that had not passed its check by then never will. Both sides compare the same id
// time with the same clock, so the writer's clock skew cancels out. This needs a transaction to
// end within that gap (5 min): sqld 0.24 rolls back a write transaction idle for 5 s and lets the
// next writer in (checked: its commit then fails STREAM_EXPIRED), and PostgreSQL is run with
// idle_in_transaction_session_timeout below it.
import { DB_NOW_MS } from "../db/db-clock.ts";
import { sql } from "drizzle-orm";
import { z } from "zod";
import { StrataError } from "../../core/errors.ts";
import type { MetadataDb } from "../db/database.ts";

/** What the artefact engine needs of cluster mode (gateway/cluster hands it in; storage never imports it). */
export interface ArtefactsCluster {
  /** This gateway's node name: its packs are written under packs/<node>/. */
  readonly node: string;
  /** This start of the node: pack commits check that it is still the node's live incarnation. */
  readonly incarnation: number;
  /** True while this gateway holds the cluster lock "artefact-gc". */
  gcAllowed(): boolean;
}

/** The cluster lock under which artefact GC runs. */
export const GC_LOCK = "artefact-gc";
/** A pack commit is refused once the pack's id time is this far behind the database's clock. */
export const PACK_COMMIT_WINDOW_MS = 5 * 60_000;
/** Unindexed pack objects younger than this (by the database's clock) are never deleted by GC. */
export const ORPHAN_MIN_AGE_MS = 10 * 60_000;

export { DB_NOW_MS };

/** What the fences need of a database or a transaction. */
type Reader = Pick<MetadataDb, "get" | "all">;

const nowRow = z.object({ now: z.number().int() });
const fenceRow = z.object({ live: z.number().int(), now: z.number().int() });
const lockRow = z.object({ held: z.number().int() });
const holderRow = z.object({ holder: z.string(), url: z.string().nullable() });

export async function databaseNowMs(db: Reader): Promise<number> {
  return nowRow.parse(await db.get(sql`SELECT ${DB_NOW_MS} AS now`)).now;
}

/**
 * Throws unless this node may commit pack `idTime`'s index rows now: LEASE_LOST when the node's
 * membership lapsed or it started again since (incarnation), UNAVAILABLE when the pack is older
 * than the commit window (its upload took too long; the client retries).
 */
export async function assertPackCommittable(tx: Reader, cluster: Pick<ArtefactsCluster, "node" | "incarnation">, packId: string, idTime: number): Promise<void> {
  const row = fenceRow.parse(
    await tx.get(sql`SELECT EXISTS (SELECT 1 FROM cluster_nodes WHERE node = ${cluster.node} AND incarnation = ${cluster.incarnation} AND expires_at > ${DB_NOW_MS}) AS live, ${DB_NOW_MS} AS now`),
  );
  if (row.live !== 1) throw new StrataError("LEASE_LOST", `node ${cluster.node} (incarnation ${cluster.incarnation}) is no longer a live member of the cluster: pack ${packId} is not indexed and is left for GC`);
  if (row.now - idTime >= PACK_COMMIT_WINDOW_MS) throw new StrataError("UNAVAILABLE", `pack ${packId} was sealed ${row.now - idTime} ms ago, past the ${PACK_COMMIT_WINDOW_MS} ms commit window; it is left for GC, retry the upload`);
}

/** Throws LEASE_LOST unless `node` holds the GC lock now (a GC that lost it commits nothing). */
export async function assertHoldsGcLock(tx: Reader, node: string): Promise<void> {
  const row = lockRow.parse(await tx.get(sql`SELECT EXISTS (SELECT 1 FROM cluster_locks WHERE name = ${GC_LOCK} AND holder = ${node} AND expires_at > ${DB_NOW_MS}) AS held`));
  if (row.held !== 1) throw new StrataError("LEASE_LOST", `node ${node} no longer holds the cluster lock ${GC_LOCK}; the GC rewrite is abandoned`);
}

/** Who holds the GC lock now (its node and advertised URL), for the refusal a non-holder answers. */
export async function gcLockHolder(db: Reader): Promise<{ node: string; url: string | null } | undefined> {
  // all(), not get(): drizzle's get() fails on an empty answer (no holder).
  const rows = await db.all(sql`SELECT l.holder AS holder, n.url AS url FROM cluster_locks l LEFT JOIN cluster_nodes n ON n.node = l.holder WHERE l.name = ${GC_LOCK} AND l.holder IS NOT NULL AND l.expires_at > ${DB_NOW_MS}`);
  if (rows.length === 0) return undefined;
  const parsed = holderRow.parse(rows[0]);
  return { node: parsed.holder, url: parsed.url };
}
