// Partition leases in partition_leases (docs/cluster.md, "Leases"): grant, renew, release and
// list, each one statement on the database's clock. The grant is a single upsert whose WHERE
// admits only a free, expired or own row, so contending gateways never both win; every grant
// bumps the epoch (a new tenure, even of the same node after a restart or a lost lease), and each
// commit of a leader checks holder and epoch in its own transaction (gateway/log), so a leader
// that lost its lease can never commit.
import { sql } from "drizzle-orm";
import { z } from "zod";
import type { MetadataDb } from "../db/database.ts";
import { DB_NOW, metadataCall } from "./cluster-sql.ts";

/** A lease this node holds: the partition and the epoch its commits are fenced with. */
export interface HeldLease {
  readonly stream: string;
  readonly partition: number;
  readonly epoch: number;
}

/** A lease row as everyone sees it, with its holder's advertised URL and liveness. */
export interface LeaseRow {
  readonly stream: string;
  readonly partition: number;
  readonly holder: string | null;
  readonly epoch: number;
  /** expires_at minus the database's now at the read (negative: expired; a released lease: how long ago). */
  readonly expiresInMs: number;
  /** The holder's cluster_nodes URL ("" before it announced), and whether its membership is live. */
  readonly holderUrl: string | undefined;
  readonly holderLive: boolean;
}

const epochRow = z.object({ epoch: z.number().int().positive() });
const heldRow = z.object({ stream: z.string(), partition: z.number().int().nonnegative(), epoch: z.number().int().positive() });
const leaseRow = z.object({
  stream: z.string(),
  partition: z.number().int().nonnegative(),
  holder: z.string().nullable(),
  epoch: z.number().int().nonnegative(),
  expires_at: z.number().int(),
  url: z.string().nullable(),
  node_expires_at: z.number().int().nullable(),
  now: z.number().int(),
});

export class LeaseStore {
  constructor(
    private readonly db: MetadataDb,
    /** This gateway's node name: the holder it writes. */
    readonly node: string,
    private readonly leaseMs: number,
  ) {}

  /**
   * Takes stream/partition when it is free (never granted, released, or expired) or already ours:
   * the new epoch (one more than the row's), or undefined when another node holds a live lease.
   */
  async grant(stream: string, partition: number): Promise<number | undefined> {
    const me = this.node;
    const rows = await metadataCall(`granting the lease of ${stream}/${partition}`, () =>
      this.db.all(sql`
        INSERT INTO partition_leases (stream, partition, holder, epoch, expires_at, granted_at)
        VALUES (${stream}, ${partition}, ${me}, 1, ${DB_NOW} + ${this.leaseMs}, ${DB_NOW})
        ON CONFLICT (stream, partition) DO UPDATE SET holder = ${me}, epoch = partition_leases.epoch + 1,
          expires_at = excluded.expires_at, granted_at = excluded.granted_at
        WHERE partition_leases.holder IS NULL OR partition_leases.holder = ${me} OR partition_leases.expires_at < ${DB_NOW}
        RETURNING epoch`),
    );
    return rows[0] === undefined ? undefined : epochRow.parse(rows[0]).epoch;
  }

  /**
   * Pushes every lease this node holds to database now + leaseMs and answers them: a lease the
   * caller leads that is missing, or has another epoch, was lost.
   */
  async renew(): Promise<HeldLease[]> {
    const rows = await metadataCall("renewing partition leases", () =>
      this.db.all(sql`UPDATE partition_leases SET expires_at = ${DB_NOW} + ${this.leaseMs} WHERE holder = ${this.node} RETURNING stream, partition, epoch`),
    );
    return rows.map((row) => heldRow.parse(row));
  }

  /**
   * Clean hand-over: frees the lease if this node still holds it at `epoch` (the next grant, any
   * node's, takes it at once with epoch + 1). expires_at becomes the database's now, so the row
   * says since when it is free. True when it was released.
   */
  async release(stream: string, partition: number, epoch: number): Promise<boolean> {
    const rows = await metadataCall(`releasing the lease of ${stream}/${partition}`, () =>
      this.db.all(sql`
        UPDATE partition_leases SET holder = NULL, expires_at = ${DB_NOW}
        WHERE stream = ${stream} AND partition = ${partition} AND holder = ${this.node} AND epoch = ${epoch} RETURNING epoch`),
    );
    return rows.length > 0;
  }

  /** Every lease row, with its holder's URL and liveness, ordered by stream and partition. */
  async list(): Promise<LeaseRow[]> {
    const rows = await metadataCall("listing partition leases", () =>
      this.db.all(sql`
        SELECT l.stream AS stream, l.partition AS partition, l.holder AS holder, l.epoch AS epoch, l.expires_at AS expires_at,
          n.url AS url, n.expires_at AS node_expires_at, ${DB_NOW} AS now
        FROM partition_leases l LEFT JOIN cluster_nodes n ON n.node = l.holder
        ORDER BY l.stream, l.partition`),
    );
    return rows.map((raw) => {
      const row = leaseRow.parse(raw);
      return {
        stream: row.stream,
        partition: row.partition,
        holder: row.holder,
        epoch: row.epoch,
        expiresInMs: row.expires_at - row.now,
        holderUrl: row.url ?? undefined,
        holderLive: row.node_expires_at !== null && row.node_expires_at > row.now,
      };
    });
  }
}
