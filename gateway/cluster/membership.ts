// This gateway's row in cluster_nodes (docs/cluster.md, "Membership"): registered when the
// gateway opens (its incarnation grows by one), announced with its URL once it listens, kept
// alive by a heartbeat every renewMs (expires_at = database now + leaseMs), and left cleanly
// ("leaving", then expires_at = 0). Live members are those whose expires_at is ahead of the
// database's clock.
import { getLogger } from "@logtape/logtape";
import { sql } from "drizzle-orm";
import { z } from "zod";
import { invariant, StrataError } from "../../core/errors.ts";
import type { MetadataDb } from "../db/database.ts";
import type { ClusterLimits } from "./cluster-limits.ts";
import { DB_NOW, metadataCall } from "./cluster-sql.ts";

const log = getLogger(["strata", "cluster", "membership"]);

/** A member as the database knows it; `live` and `expiresInMs` against the database's clock at the read. */
export interface Member {
  readonly node: string;
  readonly url: string;
  readonly state: "up" | "leaving";
  readonly incarnation: number;
  readonly live: boolean;
  readonly expiresInMs: number;
}

const memberRow = z.object({
  node: z.string(),
  url: z.string(),
  state: z.enum(["up", "leaving"]),
  incarnation: z.number().int(),
  expires_at: z.number().int(),
  now: z.number().int(),
});
const incarnationRow = z.object({ incarnation: z.number().int().positive() });

/**
 * registered: heartbeating, no URL yet (others do not route to it nor hand it partitions);
 * announced: heartbeating with its URL; superseded: another start of the same node name took the
 * row (this process must stop leading anything); left: gone.
 */
type MembershipState =
  | { readonly kind: "registered" }
  | { readonly kind: "announced"; readonly url: string }
  | { readonly kind: "superseded" }
  | { readonly kind: "left" };

export class Membership {
  #state: MembershipState = { kind: "registered" };
  #timer: ReturnType<typeof setInterval> | undefined;
  #beating: Promise<void> | undefined;

  private constructor(
    private readonly db: MetadataDb,
    readonly node: string,
    readonly incarnation: number,
    private readonly limits: Pick<ClusterLimits, "leaseMs" | "renewMs">,
  ) {}

  /**
   * Registers `node` (incarnation = previous + 1, state "up", no URL yet, live for leaseMs) and
   * starts its heartbeat. Leases an earlier incarnation of this node still holds are released:
   * that process is gone (this one holds its data directory) or, if a copy runs elsewhere under
   * the same name, fenced by the epoch the next grant takes.
   */
  static async register(db: MetadataDb, node: string, limits: Pick<ClusterLimits, "leaseMs" | "renewMs">): Promise<Membership> {
    const rows = await metadataCall("registering this gateway in cluster_nodes", () =>
      db.all(sql`
        INSERT INTO cluster_nodes (node, url, incarnation, state, started_at, heartbeat_at, expires_at)
        VALUES (${node}, '', 1, 'up', ${DB_NOW}, ${DB_NOW}, ${DB_NOW} + ${limits.leaseMs})
        ON CONFLICT (node) DO UPDATE SET url = '', incarnation = cluster_nodes.incarnation + 1, state = 'up',
          started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at
        RETURNING incarnation`),
    );
    const { incarnation } = incarnationRow.parse(rows[0]);
    await metadataCall("releasing the leases of this node's previous incarnation", () =>
      db.run(sql`UPDATE partition_leases SET holder = NULL, expires_at = ${DB_NOW} WHERE holder = ${node}`),
    );
    const membership = new Membership(db, node, incarnation, limits);
    membership.#timer = setInterval(() => void membership.heartbeat().catch(() => undefined), limits.renewMs);
    membership.#timer.unref?.();
    log.info("registered as {node}, incarnation {incarnation}", { node, incarnation });
    return membership;
  }

  get state(): MembershipState["kind"] {
    return this.#state.kind;
  }

  /** The URL this gateway announced, if it has. */
  get url(): string | undefined {
    return this.#state.kind === "announced" ? this.#state.url : undefined;
  }

  /** Publishes the URL other gateways forward to; from now on the node takes its share of partitions. */
  async announce(url: string): Promise<void> {
    invariant(this.#state.kind === "registered", `announce() in state ${this.#state.kind}`);
    await this.#write("announcing this gateway's URL", sql`url = ${url}, state = 'up'`);
    this.#state = { kind: "announced", url };
  }

  /** One heartbeat now (the timer calls it every renewMs); METADATA_UNAVAILABLE when the database does not answer. */
  heartbeat(): Promise<void> {
    // One heartbeat at a time: a slow database must not pile them up.
    this.#beating ??= this.#write("the membership heartbeat", sql`state = state`).finally(() => (this.#beating = undefined));
    return this.#beating;
  }

  /** Marks the node "leaving": the others stop handing it partitions and take its share. */
  async leaving(): Promise<void> {
    if (this.#state.kind !== "announced" && this.#state.kind !== "registered") return;
    await this.#write("marking this gateway as leaving", sql`state = 'leaving'`);
  }

  /** Leaves the cluster: no more heartbeats, the row expires now (best effort: it expires on its own otherwise). */
  async leave(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#beating?.catch(() => undefined);
    const was = this.#state;
    this.#state = { kind: "left" };
    if (was.kind === "superseded" || was.kind === "left") return;
    await this.db
      .run(sql`UPDATE cluster_nodes SET state = 'leaving', expires_at = 0 WHERE node = ${this.node} AND incarnation = ${this.incarnation}`)
      .catch((e: unknown) => log.warn("leaving the cluster failed (the membership expires on its own): {error}", { error: e }));
  }

  /** Every member the database knows, live or not. */
  async members(): Promise<Member[]> {
    const rows = await metadataCall("listing cluster_nodes", () =>
      this.db.all(sql`SELECT node, url, state, incarnation, expires_at, ${DB_NOW} AS now FROM cluster_nodes ORDER BY node`),
    );
    return rows.map((raw) => {
      const row = memberRow.parse(raw);
      return { node: row.node, url: row.url, state: row.state, incarnation: row.incarnation, live: row.expires_at > row.now, expiresInMs: row.expires_at - row.now };
    });
  }

  /** Pushes expires_at forward (and sets `assignment`) on this incarnation's row; a row another start took marks this one superseded. */
  async #write(what: string, assignment: ReturnType<typeof sql>): Promise<void> {
    if (this.#state.kind === "superseded" || this.#state.kind === "left") throw new StrataError("LEASE_LOST", `${what}: this gateway is ${this.#state.kind}`);
    const rows = await metadataCall(what, () =>
      this.db.all(sql`
        UPDATE cluster_nodes SET ${assignment}, heartbeat_at = ${DB_NOW}, expires_at = ${DB_NOW} + ${this.limits.leaseMs}
        WHERE node = ${this.node} AND incarnation = ${this.incarnation} RETURNING node`),
    );
    if (rows.length === 0) {
      log.error("another start of node {node} took its membership (incarnation {incarnation} is superseded)", { node: this.node, incarnation: this.incarnation });
      this.#state = { kind: "superseded" };
      throw new StrataError("LEASE_LOST", `${what}: another start of node ${this.node} took its membership`);
    }
  }
}
