// Fencing of a partition leader's commits in cluster mode (docs/cluster.md): every metadata write
// that changes a partition's committed state (a segment row with its producer snapshot, retention's
// deletes, compaction's swap, an intake range) checks, in the same transaction, that this gateway
// still holds the partition's lease with the epoch it was granted. A leader that lost its lease
// (paused, partitioned, its lease expired and granted to another) can therefore never commit.
import { and, eq } from "drizzle-orm";
import { StrataError } from "../../core/errors.ts";
import type { MetadataDb } from "../db/database.ts";
import { partitionLeases } from "../db/cluster-schema.ts";

/** The lease a partition leader commits under: its node name and the epoch it was granted. */
export interface LeaseFence {
  readonly node: string;
  readonly epoch: number;
}

/** A write transaction of the metadata database (drizzle's libSQL transaction). */
export type MetadataTx = Parameters<Parameters<MetadataDb["transaction"]>[0]>[0];

/** Throws LEASE_LOST unless `fence` still holds the lease of stream/partition (run inside the commit's write transaction). */
export async function assertLeaseHeld(tx: MetadataTx, stream: string, partition: number, fence: LeaseFence): Promise<void> {
  const rows = await tx
    .select({ holder: partitionLeases.holder, epoch: partitionLeases.epoch })
    .from(partitionLeases)
    .where(and(eq(partitionLeases.stream, stream), eq(partitionLeases.partition, partition)));
  const lease = rows[0];
  if (!lease || lease.holder !== fence.node || lease.epoch !== fence.epoch) {
    throw new StrataError(
      "LEASE_LOST",
      `partition ${partition} of ${stream}: lease epoch ${fence.epoch} of ${fence.node} is gone (now ${lease ? `${lease.holder ?? "free"} epoch ${lease.epoch}` : "no lease"})`,
    );
  }
}
