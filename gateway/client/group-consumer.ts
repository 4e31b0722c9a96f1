// consumeGroup: a consumer-group member over HTTP (docs/groups.md). It heartbeats on its own
// timer at the interval the gateway answers, follows its assignment (a revoked partition stops at
// once and its buffered batches are dropped; a new one starts at the group's committed offset),
// long-polls the partitions it owns into a byte-bounded buffer, and yields batches. Commits are
// at-least-once: a batch counts as processed when the caller asks for the next one (or calls
// commit()), and only processed offsets are committed, with the member and its epoch.
import { getLogger } from "@logtape/logtape";
import { invariant, StrataError } from "../../core/errors.ts";
import { KeyedLock } from "../../core/util/keyed-lock.ts";
import type { HeartbeatResponse, TopicPartition } from "../consumers/group-wire.ts";
import { BatchBuffer } from "./batch-buffer.ts";
import { assertOwnership, type ConsumerState, epochOf, transition } from "./group-consumer-state.ts";
import { GroupHttp, isTransientFailure } from "./group-http.ts";
import { type GroupBatch, type LeasedBatch, PartitionLease, type ReadSettings, retryDelayMs } from "./partition-lease.ts";

export type { GroupBatch, GroupRecord } from "./partition-lease.ts";
export type { ConsumerState } from "./group-consumer-state.ts";

const log = getLogger(["strata", "client", "groups"]);

export interface ConsumeGroupOptions {
  /** The gateway's base URL. */
  readonly gateway: string;
  readonly group: string;
  readonly streams: readonly string[];
  /** This member's id (default: a random UUID). */
  readonly member?: string;
  /** A static member's instance id: restarted within its session timeout, it gets its partitions back. */
  readonly instance?: string;
  /** Silence after which the gateway hands this member's partitions to the others (gateway default 10 s). */
  readonly sessionTimeoutMs?: number;
  /** A CEL filter (docs/filters.md); filtered-out records are skipped and still committed past. */
  readonly filter?: string;
  /** Only these fields of each record. */
  readonly fields?: readonly string[];
  readonly token?: string;
  /** The fetch to use (e.g. one trusting a private CA); the global one by default. */
  readonly fetch?: typeof fetch;
  /** Aborting it closes the consumer (a final commit, then a leave). */
  readonly signal?: AbortSignal;
  /** Where a partition with no committed offset starts (default earliest). */
  readonly start?: "earliest" | "latest";
  /** Commit processed batches when the next is asked for (default true); else only on commit(). */
  readonly autoCommit?: boolean;
  /** Bound on fetched batches not yet handed out (default 8 MiB). */
  readonly maxBufferedBytes?: number;
  /** Records per read (default 500). */
  readonly pageRecords?: number;
  /** Long-poll of a read at the end of a partition (default 5000 ms). */
  readonly waitMs?: number;
  /** Leave the group on close (default: true, false for a static member so that it can come back). */
  readonly leaveOnClose?: boolean;
}

export interface GroupConsumer extends AsyncIterableIterator<GroupBatch> {
  readonly member: string;
  /** The membership's state. */
  state(): ConsumerState;
  /** The partitions owned now. */
  assignment(): TopicPartition[];
  /** Commits the next offset of every batch the caller finished with (the one last handed out counts as finished). */
  commit(): Promise<void>;
  /** Stops reading, commits what was processed, leaves the group. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_BUFFER_BYTES = 8 * 1024 * 1024;
const PAGE_BYTES = 1024 * 1024;

export function consumeGroup(options: ConsumeGroupOptions): GroupConsumer {
  return new GroupConsumerImpl(options);
}

class GroupConsumerImpl implements GroupConsumer {
  readonly member: string;
  readonly #o: ConsumeGroupOptions;
  readonly #http: GroupHttp;
  readonly #settings: ReadSettings;
  readonly #buffer: BatchBuffer<LeasedBatch>;
  readonly #leases = new Map<string, PartitionLease>();
  /** Heartbeats and commits one at a time, so a commit never races the reconciliation of a revocation. */
  readonly #serial = new KeyedLock();
  readonly #closing = new AbortController();
  #state: ConsumerState = { kind: "joining" };
  #held: LeasedBatch | undefined;
  /** Resolves the wait of a revocation for the batch the caller holds of that partition. */
  #onHeldFinished: (() => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #failure: unknown;
  #heartbeatFailures = 0;
  /** When the last heartbeat was answered, and the interval it gave (the session is 3 intervals). */
  #answered = { at: 0, intervalMs: 0 };
  #closed: Promise<void> | undefined;
  #taking = false;

  constructor(o: ConsumeGroupOptions) {
    invariant(o.streams.length > 0, "a group consumer subscribes to at least one stream");
    this.#o = o;
    this.member = o.member ?? crypto.randomUUID();
    this.#http = new GroupHttp({ gateway: o.gateway, ...(o.token === undefined ? {} : { token: o.token }), ...(o.fetch === undefined ? {} : { fetch: o.fetch }) });
    this.#settings = {
      group: o.group,
      start: o.start ?? "earliest",
      pageRecords: o.pageRecords ?? 500,
      pageBytes: PAGE_BYTES,
      waitMs: o.waitMs ?? 5_000,
      ...(o.filter === undefined ? {} : { filter: o.filter }),
      ...(o.fields === undefined ? {} : { fields: o.fields }),
    };
    this.#buffer = new BatchBuffer(o.maxBufferedBytes ?? DEFAULT_BUFFER_BYTES);
    o.signal?.addEventListener("abort", () => void this.close().catch((e: unknown) => log.error("closing the group consumer failed: {error}", { error: e })), { once: true });
    this.#schedule(0);
  }

  state(): ConsumerState {
    return this.#state;
  }

  assignment(): TopicPartition[] {
    return [...this.#leases.values()].map((l) => ({ stream: l.stream, partition: l.partition }));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** One call at a time: the previous batch counts as finished when the next is asked for. */
  async next(): Promise<IteratorResult<GroupBatch>> {
    invariant(!this.#taking, "group consumer: next() called while another next() is pending");
    this.#taking = true;
    try {
      return await this.#next();
    } finally {
      this.#taking = false;
    }
  }

  async #next(): Promise<IteratorResult<GroupBatch>> {
    this.#finishHeld();
    if (this.#o.autoCommit ?? true) await this.#commitProcessed();
    for (;;) {
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#state.kind === "closed" || this.#closing.signal.aborted) return { done: true, value: undefined };
      const next = this.#buffer.shift();
      if (next === undefined) {
        await this.#buffer.arrival(this.#closing.signal);
        continue;
      }
      if (next.lease.revoked) continue;
      if (next.batch.records.length === 0) {
        next.lease.finished(next.batch);
        continue;
      }
      this.#held = next;
      return { done: false, value: next.batch };
    }
  }

  async return(): Promise<IteratorResult<GroupBatch>> {
    await this.close();
    return { done: true, value: undefined };
  }

  async commit(): Promise<void> {
    this.#finishHeld();
    await this.#commitProcessed();
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing.abort();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    for (const lease of this.#leases.values()) lease.revoke();
    this.#buffer.wake();
    await this.#serial.run("member", async () => {
      if (epochOf(this.#state) !== null) {
        await this.#commitNow([...this.#leases.values()]).catch((e: unknown) => log.warning("final commit failed: {error}", { error: e instanceof Error ? e.message : String(e) }));
        if (this.#o.leaveOnClose ?? this.#o.instance === undefined) {
          await this.#http.leave(this.#o.group, this.member).catch((e: unknown) => log.warning("leaving group {group} failed: {error}", { group: this.#o.group, error: e instanceof Error ? e.message : String(e) }));
        }
      }
      // A heartbeat answered while closing may have started readers: stop those too.
      for (const lease of this.#leases.values()) lease.revoke();
      this.#leases.clear();
      this.#state = transition(this.#state, { kind: "closed" });
      assertOwnership(this.#state, this.#leases.size);
    });
  }

  /** The batch last handed out is finished: the caller asked for the next one (or to commit). */
  #finishHeld(): void {
    const held = this.#held;
    this.#held = undefined;
    // A revoked lease still takes it: its revocation waits for this batch (see #heartbeat).
    if (held !== undefined) held.lease.finished(held.batch);
    this.#onHeldFinished?.();
    this.#onHeldFinished = undefined;
  }

  /**
   * Waits (at most `limitMs`, so the session stays alive) for the caller to finish the batch it
   * holds when that batch's partition was just revoked: its offsets can then be committed before
   * the revocation is acknowledged, and the new owner does not read it again.
   */
  async #heldOf(revoked: readonly PartitionLease[], limitMs: number): Promise<void> {
    const held = this.#held;
    if (held === undefined || !revoked.includes(held.lease)) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    await new Promise<void>((resolve) => {
      this.#onHeldFinished = resolve;
      timer = setTimeout(resolve, limitMs);
      onAbort = resolve;
      this.#closing.signal.addEventListener("abort", onAbort, { once: true });
    });
    clearTimeout(timer);
    if (onAbort !== undefined) this.#closing.signal.removeEventListener("abort", onAbort);
  }

  #commitProcessed(): Promise<void> {
    if (this.#closing.signal.aborted) return Promise.resolve();
    return this.#serial.run("member", () => this.#commitNow([...this.#leases.values()]));
  }

  /** Commits each lease's processed offset not yet committed. Runs under #serial. */
  async #commitNow(leases: readonly PartitionLease[]): Promise<void> {
    const epoch = epochOf(this.#state);
    if (epoch === null) return;
    for (const lease of leases) {
      const offset = lease.processed;
      if (offset === null || offset === lease.committed) continue;
      try {
        await this.#http.commit(this.#o.group, { stream: lease.stream, partition: lease.partition, offset, member: this.member, member_epoch: epoch });
        lease.committed = offset;
      } catch (e) {
        if (e instanceof StrataError && (e.code === "STALE_MEMBER_EPOCH" || e.code === "UNKNOWN_MEMBER")) {
          // The partition moved on (or the member expired): its new owner reads from the last commit.
          log.info("commit of {stream}/{partition} refused ({code}); heartbeating now", { stream: lease.stream, partition: lease.partition, code: e.code });
          this.#schedule(0);
          return;
        }
        if (isTransientFailure(e)) {
          log.warning("commit of {stream}/{partition} failed ({error}); retried with the next", { stream: lease.stream, partition: lease.partition, error: e instanceof Error ? e.message : String(e) });
          return;
        }
        throw e;
      }
    }
  }

  #schedule(delayMs: number): void {
    if (this.#closing.signal.aborted) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#serial.run("member", () => this.#heartbeat()).catch((e: unknown) => this.#fail(e)), delayMs);
  }

  /** One heartbeat and the reconciliation of its answer. Runs under #serial. */
  async #heartbeat(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    const epoch = epochOf(this.#state);
    let answer: HeartbeatResponse;
    try {
      answer = await this.#http.heartbeat(this.#o.group, {
        member: this.member,
        streams: [...this.#o.streams],
        ...(epoch === null ? {} : { member_epoch: epoch }),
        ...(this.#o.instance === undefined ? {} : { instance: this.#o.instance }),
        ...(this.#o.sessionTimeoutMs === undefined ? {} : { session_timeout_ms: this.#o.sessionTimeoutMs }),
      });
    } catch (e) {
      if (this.#closing.signal.aborted) return;
      if (e instanceof StrataError && (e.code === "STALE_MEMBER_EPOCH" || e.code === "UNKNOWN_MEMBER")) {
        log.info("member {member} of group {group} was fenced ({code}); rejoining", { member: this.member, group: this.#o.group, code: e.code });
        this.#dropAll();
        this.#state = transition(this.#state, { kind: "rejoining", reason: e.code });
        assertOwnership(this.#state, this.#leases.size);
        this.#schedule(0);
        return;
      }
      if (isTransientFailure(e)) {
        log.warning("heartbeat to group {group} failed ({error}); retrying", { group: this.#o.group, error: e instanceof Error ? e.message : String(e) });
        // Unanswered past the session: the gateway has given the partitions away, so stop reading them.
        if (epochOf(this.#state) !== null && performance.now() - this.#answered.at > 3 * this.#answered.intervalMs) {
          this.#dropAll();
          this.#state = transition(this.#state, { kind: "rejoining", reason: "session lost" });
          assertOwnership(this.#state, this.#leases.size);
        }
        this.#schedule(retryDelayMs(this.#heartbeatFailures++));
        return;
      }
      this.#fail(e);
      return;
    }
    this.#heartbeatFailures = 0;
    this.#answered = { at: performance.now(), intervalMs: answer.heartbeat_interval_ms };
    const revoked = this.#reconcile(answer);
    // After a revocation the next heartbeat acknowledges it at once, so the new owner waits no longer.
    if (revoked.length > 0) await this.#heldOf(revoked, answer.heartbeat_interval_ms);
    if (revoked.length > 0) await this.#commitNow(revoked).catch((e: unknown) => log.warning("commit of revoked partitions failed: {error}", { error: e instanceof Error ? e.message : String(e) }));
    this.#schedule(revoked.length > 0 ? 0 : answer.heartbeat_interval_ms);
  }

  /** Applies an answer's assignment; returns the revoked leases (to commit before acknowledging). */
  #reconcile(answer: HeartbeatResponse): PartitionLease[] {
    this.#state = transition(this.#state, { kind: "reconciling", epoch: answer.member_epoch });
    const target = new Map(answer.assignment.map((tp) => [`${tp.stream}\u0000${tp.partition}`, tp]));
    const revoked: PartitionLease[] = [];
    for (const [key, lease] of this.#leases) {
      if (target.has(key)) continue;
      lease.revoke();
      this.#leases.delete(key);
      revoked.push(lease);
    }
    if (revoked.length > 0) this.#buffer.remove((b) => b.lease.revoked);
    for (const [key, tp] of target) {
      if (this.#leases.has(key)) continue;
      const lease = new PartitionLease(tp.stream, tp.partition);
      this.#leases.set(key, lease);
      void lease.run(this.#http, this.#buffer, this.#settings, (e) => this.#fail(e));
    }
    if (revoked.length > 0 || target.size > 0) log.debug("member {member} owns {owned} partitions at epoch {epoch}", { member: this.member, owned: this.#leases.size, epoch: answer.member_epoch });
    this.#state = transition(this.#state, { kind: "stable", epoch: answer.member_epoch });
    assertOwnership(this.#state, this.#leases.size);
    return revoked;
  }

  #dropAll(): void {
    for (const lease of this.#leases.values()) lease.revoke();
    this.#leases.clear();
    this.#buffer.remove(() => true);
  }

  /** A failure the consumer cannot recover from (no scope, a bad filter, a deleted stream): next() throws it. */
  #fail(error: unknown): void {
    if (this.#failure !== undefined || this.#closing.signal.aborted) return;
    this.#failure = error;
    log.error("group consumer of {group} failed: {error}", { group: this.#o.group, error: error instanceof Error ? error.message : String(error) });
    this.#closing.abort();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#dropAll();
    this.#buffer.wake();
  }
}
