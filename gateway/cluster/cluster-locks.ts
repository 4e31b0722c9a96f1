// Cluster-wide singletons in cluster_locks (docs/cluster.md, "Singleton locks"): the artefact GC
// and the intake sweeper run on one gateway at a time. Each tick grants or renews every wanted
// lock with the lease grant's single upsert (database clock); holds(name) is true only while the
// last successful grant is younger than leaseMs - renewMs by this gateway's clock, so a gateway
// cut off from the database stops before another can take the lock. (The stateful services'
// "coordinator" lock has its own holder, coordinator.ts, which opens and closes services.)
import { getLogger } from "@logtape/logtape";
import { sql } from "drizzle-orm";
import { z } from "zod";
import type { MetadataDb } from "../db/database.ts";
import type { ClusterLimits } from "./cluster-limits.ts";
import { DB_NOW, metadataCall } from "./cluster-sql.ts";

const log = getLogger(["strata", "cluster", "locks"]);

/** The locks a gateway contends for through ClusterLocks. */
export const ARTEFACT_GC_LOCK = "artefact-gc";
export const INTAKE_SWEEPER_LOCK = "intake-sweeper";

/** held: until `until` (local ms) unless renewed; free: another holds it, or the database did not answer. */
type LockState = { readonly kind: "free" } | { readonly kind: "held"; readonly epoch: number; readonly until: number };

const epochRow = z.object({ epoch: z.number().int().positive() });

export class ClusterLocks {
  readonly #states = new Map<string, LockState>();

  constructor(
    private readonly db: MetadataDb,
    private readonly node: string,
    names: readonly string[],
    private readonly limits: Pick<ClusterLimits, "leaseMs" | "renewMs">,
    private readonly now: () => number = Date.now,
  ) {
    for (const name of names) this.#states.set(name, { kind: "free" });
  }

  /** Whether this gateway holds `name` now (a name it does not contend for: never). */
  holds(name: string): boolean {
    const state = this.#states.get(name);
    return state?.kind === "held" && this.now() < state.until;
  }

  /** Grants or renews every lock (the lease manager calls it every renewMs); a failure leaves the lock to expire. */
  async tick(): Promise<void> {
    for (const name of this.#states.keys()) {
      const startedAt = this.now();
      try {
        const epoch = await this.#grant(name);
        const was = this.#states.get(name);
        if (epoch === undefined) {
          if (was?.kind === "held") log.info("lock {name} is held by another gateway now", { name });
          this.#states.set(name, { kind: "free" });
          continue;
        }
        if (was?.kind !== "held" || was.epoch !== epoch) log.info("this gateway holds lock {name} (epoch {epoch})", { name, epoch });
        this.#states.set(name, { kind: "held", epoch, until: startedAt + this.limits.leaseMs - this.limits.renewMs });
      } catch (e) {
        // Keep `until`: the lock stays ours until its local deadline, then holds() says false.
        log.warn("renewing lock {name} failed: {error}", { name, error: e });
      }
    }
  }

  /** Releases every lock held (a clean stop): another gateway takes each at its next tick. */
  async releaseAll(): Promise<void> {
    for (const [name, state] of this.#states) {
      this.#states.set(name, { kind: "free" });
      if (state.kind !== "held") continue;
      await this.db
        .run(sql`UPDATE cluster_locks SET holder = NULL, expires_at = ${DB_NOW} WHERE name = ${name} AND holder = ${this.node} AND epoch = ${state.epoch}`)
        .catch((e: unknown) => log.warn("releasing lock {name} failed (it expires on its own): {error}", { name, error: e }));
    }
  }

  /** The design's grant on cluster_locks: our own live lock keeps its epoch, any new tenure bumps it. */
  async #grant(name: string): Promise<number | undefined> {
    const me = this.node;
    const rows = await metadataCall(`granting lock ${name}`, () =>
      this.db.all(sql`
        INSERT INTO cluster_locks (name, holder, epoch, expires_at) VALUES (${name}, ${me}, 1, ${DB_NOW} + ${this.limits.leaseMs})
        ON CONFLICT (name) DO UPDATE SET holder = ${me},
          epoch = CASE WHEN cluster_locks.holder IS ${me} AND cluster_locks.expires_at >= ${DB_NOW} THEN cluster_locks.epoch ELSE cluster_locks.epoch + 1 END,
          expires_at = excluded.expires_at
        WHERE cluster_locks.holder IS NULL OR cluster_locks.holder = ${me} OR cluster_locks.expires_at < ${DB_NOW}
        RETURNING epoch`),
    );
    return rows[0] === undefined ? undefined : epochRow.parse(rows[0]).epoch;
  }
}
