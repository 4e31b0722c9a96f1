// The lease manager (docs/cluster.md, "Leases"): decides which partitions this gateway leads.
// Every renewMs it renews its leases (and singleton locks); every rebalanceMs it reads the members,
// the streams table and the lease rows, takes the free or expired partitions that rendezvous
// hashing gives it (and orphans nobody took for leaseMs), and hands over the ones that belong to
// another live gateway. Each partition is an explicit state machine:
//
//   free ──grant──▶ acquiring ──lead() done──▶ leading ──owner elsewhere / close──▶ resigning ──▶ free
//                       │                         │
//                       └──── renewal missing, epoch changed, storage fenced, ────▶ lost ──▶ free
//                             or no renewal for leaseMs - renewMs
//
// A gateway that cannot renew (database down, partitioned) resigns everything as lost before
// its leases can expire in the database, so at most one gateway acknowledges for a partition;
// fencing by epoch in every commit makes a late straggler harmless anyway.
import { getLogger } from "@logtape/logtape";
import { invariant, StrataError } from "../../core/errors.ts";
import type { RetentionPolicy } from "../log/retention.ts";
import type { StreamRow } from "../log/segment-catalog.ts";
import type { ClusterLimits } from "./cluster-limits.ts";
import type { ClusterLocks } from "./cluster-locks.ts";
import type { ClusterMetrics } from "./cluster-metrics.ts";
import type { HeldLease, LeaseRow, LeaseStore } from "./lease-store.ts";
import type { Member, Membership } from "./membership.ts";
import { rendezvousOwner } from "./rendezvous.ts";

const log = getLogger(["strata", "cluster", "leases"]);

/** What the manager needs of the storage engine (LogStore in cluster mode). */
export interface PartitionLeadership {
  lead(stream: string, partition: number, epoch: number, retention: RetentionPolicy): Promise<void>;
  resign(stream: string, partition: number, how: "handoff" | "lost"): Promise<void>;
}

/** One partition's lease as this gateway sees it. `retryAt`: local ms before which a free partition is not taken again (after a failed lead). */
export type PartitionLeaseState =
  | { readonly kind: "free"; readonly retryAt: number }
  | { readonly kind: "acquiring"; readonly epoch: number }
  | { readonly kind: "leading"; readonly epoch: number }
  | { readonly kind: "resigning"; readonly epoch: number }
  | { readonly kind: "lost"; readonly epoch: number };

interface PartitionEntry {
  readonly stream: string;
  readonly partition: number;
  state: PartitionLeaseState;
}

/** A partition's leader elsewhere, as the last lease read saw it; `until`: local ms the lease runs to. */
export interface RemoteLeader {
  readonly node: string;
  readonly url: string;
  readonly epoch: number;
  readonly until: number;
}

export interface LeaseManagerOptions {
  readonly leases: LeaseStore;
  readonly membership: Membership;
  readonly locks: ClusterLocks;
  readonly logs: PartitionLeadership;
  /** Every stream (the streams table): its partitions are the ones to lead. */
  readonly streams: () => Promise<StreamRow[]>;
  readonly limits: Pick<ClusterLimits, "leaseMs" | "renewMs" | "rebalanceMs">;
  /** Background work of a singleton lock, run every periodMs while this gateway holds it (the intake sweeper). */
  readonly chores?: readonly { readonly lock: string; readonly periodMs: number; readonly run: () => Promise<void> }[];
  readonly metrics?: ClusterMetrics;
  readonly now?: () => number;
}

const keyOf = (stream: string, partition: number): string => `${stream}\u0000${partition}`;

export class LeaseManager {
  readonly #entries = new Map<string, PartitionEntry>();
  /** Leaders elsewhere, from the last lease read. */
  #remote = new Map<string, RemoteLeader>();
  #members: Member[] = [];
  #ops = new Set<Promise<void>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ticking: Promise<void> | undefined;
  #phase: "idle" | "running" | "closing" | "closed" = "idle";
  /** Local time at which the last successful renewal was sent (the lease runs leaseMs from the database's later now). */
  #renewedAt: number;
  #nextRenew = 0;
  #nextRebalance = 0;
  readonly #choreDue = new Map<string, number>();
  readonly #choresRunning = new Set<string>();
  readonly #now: () => number;

  constructor(private readonly options: LeaseManagerOptions) {
    invariant(options.limits.renewMs * 3 <= options.limits.leaseMs, "leases are renewed at least three times per lease");
    this.#now = options.now ?? Date.now;
    this.#renewedAt = this.#now();
  }

  /** This gateway's node name. */
  get node(): string {
    return this.options.membership.node;
  }

  /** Runs a first renew and rebalance now, then ticks until close(). */
  async start(): Promise<void> {
    invariant(this.#phase === "idle", `lease manager started in phase ${this.#phase}`);
    this.#phase = "running";
    this.#renewedAt = this.#now();
    await this.tick();
    this.#schedule();
  }

  /** One round now: renewal and rebalance if due (tests call it to move on without waiting). */
  tick(): Promise<void> {
    this.#ticking ??= this.#round().finally(() => (this.#ticking = undefined));
    return this.#ticking;
  }

  /** The state of stream/partition here. */
  stateOf(stream: string, partition: number): PartitionLeaseState {
    return this.#entries.get(keyOf(stream, partition))?.state ?? { kind: "free", retryAt: 0 };
  }

  /** The partitions this gateway leads, with their epochs. */
  leading(): { stream: string; partition: number; epoch: number }[] {
    const out: { stream: string; partition: number; epoch: number }[] = [];
    for (const e of this.#entries.values()) if (e.state.kind === "leading") out.push({ stream: e.stream, partition: e.partition, epoch: e.state.epoch });
    return out;
  }

  /** The live leader elsewhere of stream/partition, if the last lease read knows one whose lease has not run out. */
  remoteLeader(stream: string, partition: number): RemoteLeader | undefined {
    const remote = this.#remote.get(keyOf(stream, partition));
    return remote !== undefined && this.#now() < remote.until ? remote : undefined;
  }

  /** The members as the last rebalance read them. */
  members(): readonly Member[] {
    return this.#members;
  }

  /** Storage fenced a commit of stream/partition led under `epoch`: resign it as lost. */
  onLeaseLost(stream: string, partition: number, epoch: number): void {
    const entry = this.#entries.get(keyOf(stream, partition));
    if (entry === undefined) return;
    const { state } = entry;
    if ((state.kind === "leading" || state.kind === "acquiring") && state.epoch === epoch) this.#lose(entry, "a commit was fenced");
  }

  /** Clean leave: no new grants, every led partition handed over (appends in flight commit first), leases and locks released. */
  async close(): Promise<void> {
    if (this.#phase === "closed" || this.#phase === "closing") return;
    this.#phase = "closing";
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#ticking;
    await this.options.membership.leaving().catch((e: unknown) => log.warn("marking this gateway as leaving failed: {error}", { error: e }));
    for (const entry of this.#entries.values()) if (entry.state.kind === "leading") this.#handOver(entry);
    // Acquisitions finishing now hand over as they complete (#acquired sees the closing phase).
    while (this.#ops.size > 0) await Promise.allSettled([...this.#ops]);
    await this.options.locks.releaseAll();
    this.#phase = "closed";
  }

  #schedule(): void {
    if (this.#phase !== "running") return;
    const { renewMs, rebalanceMs } = this.options.limits;
    this.#timer = setTimeout(() => {
      void this.tick().finally(() => this.#schedule());
    }, Math.min(renewMs, rebalanceMs));
    this.#timer.unref?.();
  }

  async #round(): Promise<void> {
    if (this.#phase !== "running") return;
    // First: a process resumed after a long pause (SIGSTOP, a VM freeze) stops leading at once.
    this.#checkDeadline();
    const now = this.#now();
    if (now >= this.#nextRenew) {
      this.#nextRenew = now + this.options.limits.renewMs;
      await this.#renew();
      await this.options.locks.tick();
    }
    this.#checkDeadline();
    if (this.#phase === "running" && this.#now() >= this.#nextRebalance) {
      this.#nextRebalance = this.#now() + this.options.limits.rebalanceMs;
      await this.#rebalance().catch((e: unknown) => log.warn("rebalancing partition leases failed: {error}", { error: e }));
    }
    this.#runChores();
  }

  async #renew(): Promise<void> {
    const sentAt = this.#now();
    let held: HeldLease[];
    try {
      held = await this.options.leases.renew();
    } catch (e) {
      this.options.metrics?.renewalFailures.inc();
      log.warn("renewing partition leases failed: {error}", { error: e });
      return;
    }
    this.#renewedAt = sentAt;
    const heldEpochs = new Map(held.map((h) => [keyOf(h.stream, h.partition), h]));
    for (const entry of this.#entries.values()) {
      const { state } = entry;
      if (state.kind !== "leading" && state.kind !== "acquiring") continue;
      const renewed = heldEpochs.get(keyOf(entry.stream, entry.partition));
      if (renewed === undefined || renewed.epoch !== state.epoch) this.#lose(entry, renewed === undefined ? "another gateway holds its lease" : `its lease moved to epoch ${renewed.epoch}`);
    }
    // Rows still held by this node that it does not lead (a lead that failed, a lost partition's
    // row): free them so their owner need not wait for expiry.
    for (const h of held) {
      const state = this.#entries.get(keyOf(h.stream, h.partition))?.state;
      if (state === undefined || state.kind === "free") this.#track(this.#release(h.stream, h.partition, h.epoch));
    }
  }

  /** No successful renewal for leaseMs - renewMs (by this clock): the leases may expire in the database soon, stop leading. */
  #checkDeadline(): void {
    if (this.options.membership.state === "superseded") {
      this.#loseAll("another start of this node took its membership");
      return;
    }
    const { leaseMs, renewMs } = this.options.limits;
    if (this.#now() - this.#renewedAt > leaseMs - renewMs) this.#loseAll(`no lease renewal succeeded for ${this.#now() - this.#renewedAt} ms`);
  }

  #loseAll(reason: string): void {
    for (const entry of this.#entries.values()) {
      if (entry.state.kind === "leading" || entry.state.kind === "acquiring") this.#lose(entry, reason);
    }
  }

  async #rebalance(): Promise<void> {
    const { leases, membership } = this.options;
    const [members, streams, rows] = await Promise.all([membership.members(), this.options.streams(), leases.list()]);
    const readAt = this.#now();
    this.#members = members;
    this.#remote = remoteLeaders(rows, this.node, readAt);
    const up = members.filter((m) => m.live && m.state === "up" && m.url !== "").map((m) => m.node);
    const meUp = membership.state === "announced" && up.includes(this.node);
    const rowsByKey = new Map(rows.map((r) => [keyOf(r.stream, r.partition), r]));
    const wanted = new Set<string>();
    for (const stream of streams) {
      const retention: RetentionPolicy = { ms: stream.retentionMs, bytes: stream.retentionBytes };
      for (let partition = 0; partition < stream.partitions; partition++) {
        const key = keyOf(stream.name, partition);
        wanted.add(key);
        const entry = this.#entry(stream.name, partition);
        const owner = rendezvousOwner(up, stream.name, partition);
        if (entry.state.kind === "leading") {
          if (owner !== undefined && owner !== this.node) this.#handOver(entry);
          continue;
        }
        if (entry.state.kind !== "free" || !meUp || this.#phase !== "running" || readAt < entry.state.retryAt) continue;
        const row = rowsByKey.get(key);
        const free = row === undefined || row.holder === null || row.expiresInMs < 0 || row.holder === this.node;
        if (!free) continue;
        // Free (or expired) for longer than a lease: its owner cannot take it, anyone does.
        const orphan = row !== undefined && row.holder !== this.node && -row.expiresInMs > this.options.limits.leaseMs;
        if (owner === this.node || orphan) await this.#acquire(entry, retention);
      }
    }
    // Partitions of streams that are gone: stop leading them.
    for (const [key, entry] of this.#entries) {
      if (!wanted.has(key) && entry.state.kind === "leading") this.#handOver(entry);
    }
  }

  #entry(stream: string, partition: number): PartitionEntry {
    const key = keyOf(stream, partition);
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { stream, partition, state: { kind: "free", retryAt: 0 } };
      this.#entries.set(key, entry);
    }
    return entry;
  }

  async #acquire(entry: PartitionEntry, retention: RetentionPolicy): Promise<void> {
    let epoch: number | undefined;
    try {
      epoch = await this.options.leases.grant(entry.stream, entry.partition);
    } catch (e) {
      log.warn("granting {stream}/{partition} failed: {error}", { stream: entry.stream, partition: entry.partition, error: e });
      return;
    }
    if (epoch === undefined) return; // another gateway was faster
    invariant(entry.state.kind === "free", `granted ${entry.stream}/${entry.partition} in state ${entry.state.kind}`);
    entry.state = { kind: "acquiring", epoch };
    this.options.metrics?.leaseGrants.inc();
    const granted = epoch;
    log.info("leading {stream}/{partition} at epoch {epoch}", { stream: entry.stream, partition: entry.partition, epoch });
    this.#track(
      this.options.logs.lead(entry.stream, entry.partition, granted, retention).then(
        () => this.#acquired(entry, granted),
        (e: unknown) => {
          log.error("leading {stream}/{partition} at epoch {epoch} failed: {error}", { stream: entry.stream, partition: entry.partition, epoch: granted, error: e });
          if (entry.state.kind !== "acquiring" || entry.state.epoch !== granted) return;
          // Not taken again for a lease: another gateway may do better; this one stops holding it.
          entry.state = { kind: "free", retryAt: this.#now() + this.options.limits.leaseMs };
          return this.#release(entry.stream, entry.partition, granted);
        },
      ),
    );
  }

  #acquired(entry: PartitionEntry, epoch: number): void {
    // Lost meanwhile: the resign queued behind lead() (LogStore serialises them) closes it again.
    if (entry.state.kind !== "acquiring" || entry.state.epoch !== epoch) return;
    entry.state = { kind: "leading", epoch };
    this.#countLed();
    if (this.#phase !== "running") this.#handOver(entry);
  }

  #handOver(entry: PartitionEntry): void {
    const { state } = entry;
    invariant(state.kind === "leading", `hand-over of ${entry.stream}/${entry.partition} in state ${state.kind}`);
    entry.state = { kind: "resigning", epoch: state.epoch };
    this.options.metrics?.handOvers.inc();
    this.#countLed();
    log.info("handing over {stream}/{partition} (epoch {epoch})", { stream: entry.stream, partition: entry.partition, epoch: state.epoch });
    this.#track(
      this.options.logs
        .resign(entry.stream, entry.partition, "handoff")
        .catch((e: unknown) => log.error("handing over {stream}/{partition} failed: {error}", { stream: entry.stream, partition: entry.partition, error: e }))
        .then(() => this.#release(entry.stream, entry.partition, state.epoch))
        .finally(() => {
          invariant(entry.state.kind === "resigning" && entry.state.epoch === state.epoch, `hand-over of ${entry.stream}/${entry.partition} ended in state ${entry.state.kind}`);
          entry.state = { kind: "free", retryAt: 0 };
        }),
    );
  }

  #lose(entry: PartitionEntry, reason: string): void {
    const { state } = entry;
    invariant(state.kind === "leading" || state.kind === "acquiring", `losing ${entry.stream}/${entry.partition} in state ${state.kind}`);
    entry.state = { kind: "lost", epoch: state.epoch };
    this.options.metrics?.leaseLosses.inc();
    this.#countLed();
    log.warn("lost the lease of {stream}/{partition} (epoch {epoch}): {reason}", { stream: entry.stream, partition: entry.partition, epoch: state.epoch, reason });
    this.#track(
      this.options.logs
        .resign(entry.stream, entry.partition, "lost")
        .catch((e: unknown) => log.error("resigning {stream}/{partition} failed: {error}", { stream: entry.stream, partition: entry.partition, error: e }))
        .finally(() => {
          invariant(entry.state.kind === "lost" && entry.state.epoch === state.epoch, `loss of ${entry.stream}/${entry.partition} ended in state ${entry.state.kind}`);
          entry.state = { kind: "free", retryAt: 0 };
        }),
    );
  }

  /** Best effort: a release that fails leaves the lease to expire. */
  async #release(stream: string, partition: number, epoch: number): Promise<void> {
    await this.options.leases.release(stream, partition, epoch).catch((e: unknown) => log.warn("releasing {stream}/{partition} failed (it expires on its own): {error}", { stream, partition, error: e }));
  }

  #countLed(): void {
    let led = 0;
    for (const e of this.#entries.values()) if (e.state.kind === "leading") led++;
    this.options.metrics?.partitionsLed.set({}, led);
  }

  #track(op: Promise<void>): void {
    const tracked = op.catch((e: unknown) => log.error("lease operation failed: {error}", { error: e }));
    this.#ops.add(tracked);
    void tracked.finally(() => this.#ops.delete(tracked));
  }

  #runChores(): void {
    for (const chore of this.options.chores ?? []) {
      const now = this.#now();
      if (this.#choresRunning.has(chore.lock) || now < (this.#choreDue.get(chore.lock) ?? 0) || !this.options.locks.holds(chore.lock)) continue;
      this.#choreDue.set(chore.lock, now + chore.periodMs);
      this.#choresRunning.add(chore.lock);
      void chore
        .run()
        .catch((e: unknown) => log.warn("{lock} failed: {error}", { lock: chore.lock, error: e }))
        .finally(() => this.#choresRunning.delete(chore.lock));
    }
  }
}

/** Leaders other than `me` whose lease and membership were live at the read, with their URLs. */
function remoteLeaders(rows: readonly LeaseRow[], me: string, readAt: number): Map<string, RemoteLeader> {
  const remote = new Map<string, RemoteLeader>();
  for (const row of rows) {
    if (row.holder === null || row.holder === me || !row.holderLive || row.expiresInMs <= 0 || !row.holderUrl) continue;
    remote.set(keyOf(row.stream, row.partition), { node: row.holder, url: row.holderUrl, epoch: row.epoch, until: readAt + row.expiresInMs });
  }
  return remote;
}

/** NOT_LEADER for stream/partition (503, retryable). */
export function notLeader(stream: string, partition: number): StrataError {
  return new StrataError("NOT_LEADER", `no live gateway leads ${stream}/${partition} right now (its lease is moving); retry`);
}
