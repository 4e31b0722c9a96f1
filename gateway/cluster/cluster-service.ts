// This gateway's part in the cluster (docs/cluster.md): its membership, the lease manager that
// decides which partitions it leads, the singleton locks, and the answers the rest of the gateway
// needs: where a partition is led (route, the PartitionRouter the stream services are handed),
// which partitions of a stream are led here, and GET /v1/cluster.
import type { StreamRow } from "../log/segment-catalog.ts";
import { SegmentCatalog } from "../log/segment-catalog.ts";
import type { MetadataDb } from "../db/database.ts";
import type { PartitionRoute, PartitionRouter } from "../streams/partition-route.ts";
import type { ClusterLimits } from "./cluster-limits.ts";
import { ARTEFACT_GC_LOCK, ClusterLocks, INTAKE_SWEEPER_LOCK } from "./cluster-locks.ts";
import { createClusterMetrics } from "./cluster-metrics.ts";
import type { ClusterStatus } from "./cluster-wire.ts";
import type { MetricsRegistry } from "../metrics.ts";
import { LeaseManager, notLeader, type PartitionLeadership } from "./lease-manager.ts";
import { LeaseStore } from "./lease-store.ts";
import { Membership } from "./membership.ts";
import { resolveNodeName } from "./node-identity.ts";

export interface ClusterServiceOptions {
  readonly db: MetadataDb;
  readonly membership: Membership;
  readonly logs: PartitionLeadership;
  readonly limits: ClusterLimits;
  /** The intake sweeper (part of storage), run every periodMs on the holder of the "intake-sweeper" lock. */
  readonly sweepIntake?: { readonly periodMs: number; run(): Promise<void> };
  /** Where the cluster's metrics (partitions led, lease moves) are registered. */
  readonly registry?: MetricsRegistry;
}

/** Registers this gateway (node name from `configured` or DATA/node-id; incarnation + 1) before anything else opens. */
export async function registerClusterNode(db: MetadataDb, dataDir: string, configured: string | undefined, limits: ClusterLimits): Promise<Membership> {
  return Membership.register(db, await resolveNodeName(dataDir, configured), limits);
}

export class ClusterService implements PartitionRouter {
  readonly #membership: Membership;
  readonly #leases: LeaseStore;
  readonly #manager: LeaseManager;
  readonly #locks: ClusterLocks;
  #phase: "registered" | "started" | "closed" = "registered";

  constructor(options: ClusterServiceOptions) {
    const { db, membership, limits } = options;
    this.#membership = membership;
    this.#leases = new LeaseStore(db, membership.node, limits.leaseMs);
    this.#locks = new ClusterLocks(db, membership.node, [ARTEFACT_GC_LOCK, INTAKE_SWEEPER_LOCK], limits);
    const catalog = new SegmentCatalog(db);
    const streams = (): Promise<StreamRow[]> => catalog.listStreams();
    const sweep = options.sweepIntake;
    this.#manager = new LeaseManager({
      leases: this.#leases,
      membership,
      locks: this.#locks,
      logs: options.logs,
      streams,
      limits,
      ...(options.registry === undefined ? {} : { metrics: createClusterMetrics(options.registry) }),
      chores: sweep === undefined ? [] : [{ lock: INTAKE_SWEEPER_LOCK, periodMs: sweep.periodMs, run: () => sweep.run() }],
    });
  }

  get node(): string {
    return this.#membership.node;
  }

  get incarnation(): number {
    return this.#membership.incarnation;
  }

  /** The singleton locks (artefact GC's gcAllowed reads `holds(ARTEFACT_GC_LOCK)`). */
  get locks(): Pick<ClusterLocks, "holds"> {
    return this.#locks;
  }

  /** Announces `advertisedUrl` and starts taking this gateway's share of the partitions (first round before it returns). */
  async start(advertisedUrl: string): Promise<void> {
    if (this.#phase !== "registered") return;
    this.#phase = "started";
    await this.#membership.announce(advertisedUrl);
    await this.#manager.start();
  }

  /** Clean leave: every led partition handed over (appends in flight commit first), leases and locks released, membership ended. */
  async close(): Promise<void> {
    if (this.#phase === "closed") return;
    this.#phase = "closed";
    await this.#manager.close();
    await this.#membership.leave();
  }

  /** Storage fenced a commit (LogStoreConfig.cluster.onLeaseLost): the partition is resigned as lost. */
  onLeaseLost(stream: string, partition: number, epoch: number): void {
    this.#manager.onLeaseLost(stream, partition, epoch);
  }

  route(stream: string, partition: number): PartitionRoute {
    if (this.#manager.stateOf(stream, partition).kind === "leading") return { kind: "local" };
    const remote = this.#manager.remoteLeader(stream, partition);
    if (remote !== undefined) return { kind: "remote", url: remote.url, node: remote.node };
    throw notLeader(stream, partition);
  }

  localPartitions(stream: string): number[] {
    return this.#manager
      .leading()
      .filter((l) => l.stream === stream)
      .map((l) => l.partition)
      .sort((a, b) => a - b);
  }

  /** The leader of stream/partition as this gateway knows it (url null: this gateway), or undefined when none is live. */
  leaderOf(stream: string, partition: number): { readonly node: string; readonly url: string | null } | undefined {
    if (this.#manager.stateOf(stream, partition).kind === "leading") return { node: this.node, url: null };
    const remote = this.#manager.remoteLeader(stream, partition);
    return remote === undefined ? undefined : { node: remote.node, url: remote.url };
  }

  /** One round of renewal and rebalancing now (tests, and a caller that wants the lease map fresh). */
  tick(): Promise<void> {
    return this.#manager.tick();
  }

  /** GET /v1/cluster, read fresh from the database: METADATA_UNAVAILABLE when it does not answer. */
  async status(): Promise<ClusterStatus> {
    const [members, leases] = await Promise.all([this.#membership.members(), this.#leases.list()]);
    const held = new Map<string, number>();
    for (const l of leases) if (l.holder !== null && l.expiresInMs > 0) held.set(l.holder, (held.get(l.holder) ?? 0) + 1);
    return {
      node: this.node,
      incarnation: this.incarnation,
      gateways: members.map((m) => ({ node: m.node, url: m.url, state: m.state, live: m.live, incarnation: m.incarnation, leases: held.get(m.node) ?? 0 })),
      leases: leases.map((l) => ({ stream: l.stream, partition: l.partition, holder: l.holder, epoch: l.epoch, expires_in_ms: l.expiresInMs })),
    };
  }
}
