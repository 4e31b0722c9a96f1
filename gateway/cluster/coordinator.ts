// The coordinator of the stateful services in cluster mode (docs/cluster.md, "Stateful
// services"): the one gateway holding cluster_locks "coordinator". The lock is granted and renewed
// by the design's single upsert on the database's clock (no double grant under contention); a
// holder that cannot renew steps down at a local deadline that falls before the lease expires in
// the database, so two gateways never both believe they coordinate. Followers learn the holder's
// URL from cluster_nodes, for the HTTP proxy (gateway/http/coordinator-proxy.ts).
import { getLogger } from "@logtape/logtape";
import { sql } from "drizzle-orm";
import { z } from "zod";
import { invariant } from "../../core/errors.ts";
import type { MetadataDb } from "../db/database.ts";
import type { ClusterLimits } from "./cluster-limits.ts";
import { DB_NOW } from "./cluster-sql.ts";

const log = getLogger(["strata", "cluster", "coordinator"]);

/** The lock's row in cluster_locks. */
export const COORDINATOR_LOCK = "coordinator";


/** Where the stateful services' requests go: served here, proxied to the coordinator, or nowhere yet. */
export type CoordinatorRoute =
  | { readonly kind: "local" }
  | { readonly kind: "remote"; readonly url: string; readonly node: string }
  | { readonly kind: "unknown" };

/** What transports need of the coordination: where a stateful service's request goes. */
export interface ServiceCoordination {
  route(): CoordinatorRoute;
  /** Longest wait for the coordinator's answer to a proxied request to start (cluster.forwardTimeoutMs). */
  readonly forwardTimeoutMs: number;
}

type CoordinatorState =
  | { readonly kind: "idle" }
  | { readonly kind: "following"; readonly leader: { readonly node: string; readonly url: string } | undefined }
  /** `stepDownAt`: local time by which a renewal must succeed (before the lease expires in the database). */
  | { readonly kind: "leading"; readonly epoch: number; readonly stepDownAt: number }
  | { readonly kind: "closed" };

export interface CoordinatorOptions {
  readonly db: MetadataDb;
  /** This gateway's node name (cluster_nodes.node). */
  readonly node: string;
  readonly limits: Pick<ClusterLimits, "leaseMs" | "renewMs">;
  /** This gateway became the coordinator (epoch of the lock): open the stateful services. Throwing releases the lock. */
  readonly onGain: (epoch: number) => Promise<void>;
  /** This gateway stopped coordinating (lost, stepped down, or closing): close them. */
  readonly onLose: () => Promise<void>;
}

const grantRow = z.object({ epoch: z.number().int().positive() });
const leaderRow = z.object({ node: z.string(), url: z.string() });

export class Coordinator {
  #state: CoordinatorState = { kind: "idle" };
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ticking: Promise<void> | undefined;
  /** Set by close(): no round starts any more. */
  #closing = false;
  readonly #options: CoordinatorOptions;

  constructor(options: CoordinatorOptions) {
    invariant(options.limits.renewMs * 3 <= options.limits.leaseMs, "the coordinator lock is renewed at least three times per lease");
    this.#options = options;
  }

  get state(): CoordinatorState {
    return this.#state;
  }

  /** True while this gateway coordinates. */
  leads(): boolean {
    return this.#state.kind === "leading";
  }

  /**
   * True while this gateway coordinates and its last renewal is recent enough that no other can
   * hold the lock: checked by the services before each write, so a gateway paused past its
   * deadline writes nothing when it resumes, even before its next round steps it down.
   */
  mayWrite(): boolean {
    const state = this.#state;
    return state.kind === "leading" && Date.now() < state.stepDownAt;
  }

  route(): CoordinatorRoute {
    const state = this.#state;
    if (state.kind === "leading") return { kind: "local" };
    if (state.kind === "following" && state.leader !== undefined) return { kind: "remote", ...state.leader };
    return { kind: "unknown" };
  }

  /** Runs the first tick now (so a lone gateway coordinates before it answers) and then every renewMs. */
  async start(): Promise<void> {
    invariant(this.#state.kind === "idle", `coordinator started twice (${this.#state.kind})`);
    this.#state = { kind: "following", leader: undefined };
    await this.#runTick();
  }

  /** One grant-or-renew round (tests call it to move on without waiting for the timer). */
  async tick(): Promise<void> {
    await this.#ticking;
    if (this.#state.kind === "closed") return;
    await this.#runTick();
  }

  /** Stops ticking; a coordinator closes its services and releases the lock so another takes it at once. */
  async close(): Promise<void> {
    if (this.#state.kind === "closed") return;
    this.#closing = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#ticking;
    const was = this.#state;
    this.#state = { kind: "closed" };
    if (was.kind !== "leading") return;
    await this.#options.onLose().catch((e: unknown) => log.error("closing the stateful services failed: {error}", { error: e }));
    await this.#release(was.epoch);
  }

  /** One round, then the next one renewMs later (a single timer: a round run by tick() replaces the pending one). */
  #runTick(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const run = this.#round().finally(() => {
      this.#ticking = undefined;
      if (this.#closing || this.#state.kind === "closed") return;
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = setTimeout(() => void this.#runTick(), this.#options.limits.renewMs);
      this.#timer.unref?.();
    });
    this.#ticking = run;
    return run;
  }

  async #round(): Promise<void> {
    if (this.#closing || this.#state.kind === "closed") return;
    const startedAt = Date.now();
    let epoch: number | undefined;
    try {
      epoch = await this.#grant();
    } catch (e) {
      // The database is unreachable: a coordinator keeps going until its deadline, then steps down.
      const state = this.#state;
      if (state.kind === "leading" && Date.now() >= state.stepDownAt) {
        log.warn("could not renew the coordinator lock before its deadline; stepping down: {error}", { error: e });
        await this.#lose();
      } else if (state.kind === "following") {
        this.#state = { kind: "following", leader: undefined };
      }
      return;
    }
    const state = this.#state;
    if (this.#closing) {
      // close() waits for this round: a lock taken just now is given back (a held one close() releases).
      if (epoch !== undefined && state.kind !== "leading") await this.#release(epoch);
      return;
    }
    if (epoch === undefined) {
      if (state.kind === "leading") {
        log.warn("the coordinator lock is held by another gateway; stepping down");
        await this.#lose();
      }
      this.#state = { kind: "following", leader: await this.#leader().catch(() => undefined) };
      return;
    }
    // Renewed before the database's expiry by at least one renewal period.
    const stepDownAt = startedAt + this.#options.limits.leaseMs - this.#options.limits.renewMs;
    if (state.kind === "leading" && state.epoch === epoch) {
      this.#state = { kind: "leading", epoch, stepDownAt };
      return;
    }
    if (state.kind === "leading") await this.#lose();
    log.info("this gateway coordinates the stateful services (epoch {epoch})", { epoch });
    this.#state = { kind: "leading", epoch, stepDownAt };
    try {
      await this.#options.onGain(epoch);
    } catch (e) {
      log.error("opening the stateful services failed; releasing the coordinator lock: {error}", { error: e });
      this.#state = { kind: "following", leader: undefined };
      await this.#options.onLose().catch(() => undefined);
      await this.#release(epoch);
    }
  }

  async #lose(): Promise<void> {
    invariant(this.#state.kind === "leading", "only a coordinator steps down");
    this.#state = { kind: "following", leader: undefined };
    await this.#options.onLose().catch((e: unknown) => log.error("closing the stateful services failed: {error}", { error: e }));
  }

  /** The design's grant: takes a free or expired lock, renews our own live one (same epoch; a new tenure bumps it); the epoch, or undefined when another holds it. */
  async #grant(): Promise<number | undefined> {
    const { node, limits } = this.#options;
    const rows = await this.#options.db.all(sql`
      INSERT INTO cluster_locks (name, holder, epoch, expires_at)
      VALUES (${COORDINATOR_LOCK}, ${node}, 1, ${DB_NOW} + ${limits.leaseMs})
      ON CONFLICT (name) DO UPDATE SET
        holder = ${node},
        epoch = CASE WHEN cluster_locks.holder IS ${node} AND cluster_locks.expires_at >= ${DB_NOW} THEN cluster_locks.epoch ELSE cluster_locks.epoch + 1 END,
        expires_at = excluded.expires_at
      WHERE cluster_locks.holder IS NULL OR cluster_locks.holder = ${node} OR cluster_locks.expires_at < ${DB_NOW}
      RETURNING epoch`);
    return rows[0] === undefined ? undefined : grantRow.parse(rows[0]).epoch;
  }

  /** The live holder of the lock and its advertised URL, if any. */
  async #leader(): Promise<{ node: string; url: string } | undefined> {
    const rows = await this.#options.db.all(sql`
      SELECT n.node AS node, n.url AS url FROM cluster_locks l JOIN cluster_nodes n ON n.node = l.holder
      WHERE l.name = ${COORDINATOR_LOCK} AND l.expires_at > ${DB_NOW} AND n.expires_at > ${DB_NOW}`);
    if (rows[0] === undefined) return undefined;
    const row = leaderRow.parse(rows[0]);
    return row.url.length > 0 ? row : undefined;
  }

  /** Clean hand-over: the next grant (any gateway's) takes the lock at once. */
  async #release(epoch: number): Promise<void> {
    await this.#options.db
      .run(sql`UPDATE cluster_locks SET holder = NULL, expires_at = 0 WHERE name = ${COORDINATOR_LOCK} AND holder = ${this.#options.node} AND epoch = ${epoch}`)
      .catch((e: unknown) => log.warn("releasing the coordinator lock failed (it expires on its own): {error}", { error: e }));
  }
}
