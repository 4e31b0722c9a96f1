// The stateful services in a cluster (docs/cluster.md, "Stateful services"). The rules:
//
// - Consumer groups, queues, datasets, checkpoints (jobs), gradients and the fleet keep their
//   state in the shared metadata database, but also in memory (group members, epochs and session
//   timers; queue claims and visibility sweeps; dataset versions and pins; live checkpoints and
//   their sweeper; gradient reservations serialised per rank; rollouts). One gateway, the holder
//   of cluster_locks "coordinator" (coordinator.ts), runs them: on gaining the lock it loads
//   their state from the database and starts their timers (resume), on losing it or stopping it
//   stops them (suspend). Members' sessions start anew on the new coordinator, so members that
//   keep heartbeating rejoin without a rebalance; unacked queue claims keep their deadline in the
//   database and are redelivered when it passes.
// - On every other gateway their HTTP routes (/v1/groups, /v1/queues, /v1/datasets, /v1/jobs,
//   /v1/gradients, /v1/devices, /v1/rollouts) are proxied to the coordinator
//   (gateway/http/coordinator-proxy.ts): method, path, headers (the caller's Authorization) and
//   body streamed, header `strata-forwarded: 1`, the answer streamed back as it is. With no
//   coordinator known, or a coordinator that does not answer, 503 NOT_LEADER with Retry-After: 1;
//   a proxied request that reaches a gateway that no longer coordinates is 503 NOT_LEADER too
//   (never proxied twice). Raw segment reads (/v1/streams/{name}/partitions/{p}/segments) are
//   not coordinated: like every per-partition read they go to the partition's leader
//   (gateway/http/cluster-proxy.ts), which serves sealed ranges from the object store.
// - The coordinator reads queue and dataset partitions that other gateways lead through
//   LogService.readRaw, which asks their leaders' read route (gateway/queues/remote-read.ts:
//   MessagePack, the stored bytes located, not re-encoded), takes their offsets from the shared
//   state (StreamService.info), and appends (dead letters, completion records, gradients) through
//   LogService, which forwards to the leader. Claims, dataset creates, sample reads and gradient
//   contributions carry the caller's Authorization; the services' own calls (sweeps, dead
//   letters, completion records) the gateway's credential (gateway-credential.ts).
// - A service that does not coordinate refuses changes (NOT_LEADER) and starts no timer, so a
//   request that slips through (QUIC group calls, a long-poll from before a hand-over) never
//   writes beside the coordinator.
// - What else in the gateway reads these services keeps working on every gateway: retention on a
//   partition's leader asks DatasetService.pinnedFloor, and artefact GC (on the "artefact-gc"
//   lock holder) asks JobService.heldManifests and FleetService.heldManifests. Followers reload
//   those from the database every cluster.renewMs (refresh); a follower whose reload fails keeps
//   every record (pinned floor 0) until one succeeds. Manifests committed between two reloads are
//   younger than artefacts.gcGraceMs, which GC keeps anyway.
// - The lock is renewed every cluster.renewMs; a coordinator that cannot renew steps down
//   (suspends) at leaseMs − renewMs after its last successful renewal, before the lock expires in
//   the database, and another gateway takes it after expiry; a clean stop releases it at once.
//   Every write of the services (requests, session and visibility sweeps, the checkpoint sweeper)
//   first checks mayWrite(): leading and renewed within leaseMs − renewMs by this gateway's clock.
//   A coordinator paused past its lease (SIGSTOP, a long GC) therefore writes nothing when it
//   resumes, even before its next round notices. The writes are not fenced by the lock's epoch
//   inside their own transactions (as partition commits are): a write already past its check
//   when the pause begins can still land afterwards.
import { getLogger } from "@logtape/logtape";
import type { MetadataDb } from "../db/database.ts";
import type { ClusterLimits } from "./cluster-limits.ts";
import { Coordinator, type CoordinatorRoute, type ServiceCoordination } from "./coordinator.ts";

const log = getLogger(["strata", "cluster", "coordinator"]);

/** A service whose in-memory state only the coordinator may hold (the stateful services implement it). */
export interface CoordinatedService {
  /**
   * This gateway became the coordinator: load the state from the database and start timers.
   * `mayWrite` turns false the moment the role may have passed to another gateway (this one was
   * paused past its lock's local deadline): timers and requests write nothing from then on, even
   * before suspend() runs.
   */
  resume(mayWrite: () => boolean): Promise<void>;
  /** It no longer is: stop timers, wait for work in progress, refuse changes. */
  suspend(): Promise<void>;
  /** On a follower: reload what other parts of this gateway read (retention pins, GC holders). */
  refresh?(): Promise<void>;
}

export interface CoordinatedServicesOptions {
  readonly db: MetadataDb;
  /** This gateway's node name (cluster_nodes.node). */
  readonly node: string;
  readonly limits: Pick<ClusterLimits, "leaseMs" | "renewMs" | "forwardTimeoutMs">;
  /** Opened dormant (their `dormant` option); resumed in this order, suspended in reverse. */
  readonly services: readonly CoordinatedService[];
}

/** The stateful services under one coordinator lock; `route()` tells the HTTP proxy where their requests go. */
export class CoordinatedServices implements ServiceCoordination {
  readonly #coordinator: Coordinator;
  readonly forwardTimeoutMs: number;
  readonly #services: readonly CoordinatedService[];
  readonly #renewMs: number;
  #refresher: ReturnType<typeof setInterval> | undefined;
  #refreshing: Promise<void> | undefined;

  private constructor(options: CoordinatedServicesOptions) {
    this.#services = options.services;
    this.#renewMs = options.limits.renewMs;
    this.forwardTimeoutMs = options.limits.forwardTimeoutMs;
    this.#coordinator = new Coordinator({
      db: options.db,
      node: options.node,
      limits: options.limits,
      onGain: async () => {
        await this.#refreshing;
        for (const service of this.#services) await service.resume(() => this.#coordinator.mayWrite());
      },
      onLose: async () => {
        for (const service of [...this.#services].reverse()) {
          await service.suspend().catch((error: unknown) => log.error("suspending a stateful service failed: {error}", { error }));
        }
      },
    });
  }

  /** Takes the lock if it is free (a lone gateway coordinates at once) and starts renewing it and refreshing followers' state. */
  static async start(options: CoordinatedServicesOptions): Promise<CoordinatedServices> {
    const coordinated = new CoordinatedServices(options);
    await coordinated.#coordinator.start();
    coordinated.#refresher = setInterval(() => void coordinated.refresh(), coordinated.#renewMs);
    coordinated.#refresher.unref?.();
    return coordinated;
  }

  route(): CoordinatorRoute {
    return this.#coordinator.route();
  }

  /** True while this gateway coordinates the stateful services. */
  leads(): boolean {
    return this.#coordinator.leads();
  }

  /** One lock round now (tests move on without waiting for the timer). */
  tick(): Promise<void> {
    return this.#coordinator.tick();
  }

  /** On a follower, reloads the services' state others read; one run at a time. */
  refresh(): Promise<void> {
    if (this.#coordinator.leads()) return Promise.resolve();
    this.#refreshing ??= (async () => {
      for (const service of this.#services) {
        await service.refresh?.().catch((error: unknown) => log.warn("reloading a stateful service's state failed: {error}", { error }));
      }
    })().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  /** Suspends the services (on the coordinator) and releases the lock so another gateway takes it at once. */
  async close(): Promise<void> {
    if (this.#refresher !== undefined) clearInterval(this.#refresher);
    await this.#refreshing;
    await this.#coordinator.close();
  }
}

/** Opens the coordination of the stateful services in cluster mode: the one call openGateway makes. */
export function coordinateServices(options: CoordinatedServicesOptions): Promise<CoordinatedServices> {
  return CoordinatedServices.start(options);
}
