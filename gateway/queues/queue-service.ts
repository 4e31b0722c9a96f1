// Work queues over streams (docs/queues.md): claims with visibility timeouts, strict priority
// between the streams of a claim, acks and nacks by receipt, redelivery with backoff, and dead
// letters after max_deliveries. One lock per queue group serialises its requests' changes in
// memory; their rows are written in group-committed transactions (write-batcher.ts), each request
// answered once its rows are committed.
import { getLogger } from "@logtape/logtape";
import { invariant, StrataError } from "../../core/errors.ts";
import type { RawRecord } from "../../core/log/batch.ts";
import { KeyedLock } from "../../core/util/keyed-lock.ts";
import type { Database } from "../db/database.ts";
import type { MetricsRegistry } from "../metrics.ts";
import { compileFilter } from "../filters/record-filter.ts";
import type { LogService, RawReadResult, ReadRequest } from "../streams/log-service.ts";
import type { StreamService } from "../streams/stream-service.ts";
import { backoffDelay } from "./backoff.ts";
import type { RawClaimed } from "./claim-msgpack.ts";
import { DeadLetters } from "./dead-letters.ts";
import { DueBounds } from "./due-bounds.ts";
import * as transitions from "./queued-record.ts";
import type { QueuedRecord } from "./queued-record.ts";
import { READ_AHEAD_RECORDS, ReadAhead } from "./read-ahead.ts";
import { newReceipt, parseReceipt } from "./receipt.ts";
import type { QueueLimits } from "./queue-limits.ts";
import { createQueueMetrics, type QueueMetrics } from "./queue-metrics.ts";
import { emptyPartition, partitionKey, QueueChanges, type PartitionQueue, type QueueState } from "./queue-state.ts";
import { QueueStore, type WriteSet } from "./queue-store.ts";
import { WriteBatcher } from "./write-batcher.ts";
import type { QueueProcessingObserver } from "../observability/anomaly-processing.ts";
import type { ReadObserver } from "../observability/stream-metrics.ts";
import type { AckResponse, ClaimRequest, NackRequest, NackResponse, QueueConfig, QueueConfigInput, QueueCounts, QueueDescription, QueuePartitionCounts, QueueSummary } from "./queue-wire.ts";

const log = getLogger(["strata", "queues"]);

const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
const EXPIRED = "visibility timeout expired";
/** How often expired claims are swept (dead letters appear without waiting for a claim). */
const SWEEP_INTERVAL_MS = 1000;

/** A commit to wait for, boxed: an async function cannot return a promise unflattened. */
interface Pending {
  readonly committed: Promise<void>;
}

export interface QueueServiceOptions {
  /** Cluster mode: load and serve nothing until resume() (on the coordinator). */
  readonly dormant?: boolean;
  /** Told about every claim's records as they are handed out (end-to-end latency, gateway/observability/stream-metrics.ts). */
  readonly deliveries?: Pick<ReadObserver, "delivered">;
  /** Told of each claim's deliveries and each ack: a processing time (docs/anomalies.md). */
  readonly processing?: QueueProcessingObserver;
}

/** One delivery handed to a claimer, its record located in its stored batch (decoded only for a JSON answer). */
export type ClaimedRecord = RawClaimed;

export class QueueService {
  private readonly groups = new Map<string, QueueState>();
  private readonly locks = new KeyedLock();
  private readonly batchers = new Map<string, WriteBatcher<WriteSet>>();
  private readonly deadLetters: DeadLetters;
  private readonly readAhead = new ReadAhead();
  private readonly due = new DueBounds();
  private readonly store: QueueStore;
  private sweeper: ReturnType<typeof setInterval> | undefined;
  private roundRobin = 0;
  private deliveries: Pick<ReadObserver, "delivered"> | undefined;
  private processing: QueueProcessingObserver | undefined;
  /** Dormant on a gateway that does not coordinate (cluster mode): no state, no request served. */
  private mode: "serving" | "dormant" = "dormant";
  /** Cluster mode: false the moment this gateway may no longer coordinate (before suspend() runs): nothing is written. */
  private mayWrite: () => boolean = () => true;
  /** Cluster mode: the Authorization of the claim a group runs now (set under the group's lock), sent with reads of partitions led elsewhere. */
  private readonly claimAuthorization = new Map<string, string>();

  private constructor(
    db: Pick<Database, "db" | "client">,
    private readonly streams: StreamService,
    private readonly log: LogService,
    private readonly limits: QueueLimits,
    private readonly metrics: QueueMetrics,
  ) {
    this.store = new QueueStore(db);
    // Dead letters are the service's own reads (in sweeps too): with the gateway's credential.
    this.deadLetters = new DeadLetters(streams, log);
  }

  /**
   * Loads every queue group, finishes dead letters a crash interrupted, and starts the expiry
   * sweep. `dormant` (cluster mode): loads nothing and serves nothing until resume(), on the
   * coordinator only (gateway/cluster/coordinated-services.ts).
   */
  static async open(db: Pick<Database, "db" | "client">, streams: StreamService, logService: LogService, limits: QueueLimits, registry: MetricsRegistry, options: QueueServiceOptions = {}): Promise<QueueService> {
    const service = new QueueService(db, streams, logService, limits, createQueueMetrics(registry));
    service.deliveries = options.deliveries;
    service.processing = options.processing;
    if (options.dormant !== true) await service.resume();
    return service;
  }

  close(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** Cluster mode, this gateway became the coordinator: the queues' state as the database has it, the sweep started. */
  async resume(mayWrite: () => boolean = () => true): Promise<void> {
    this.close();
    this.mayWrite = mayWrite;
    const loaded = new Map((await this.store.load()).map((state) => [state.group, state]));
    for (const group of new Set([...this.groups.keys(), ...loaded.keys()])) {
      await this.locks.run(group, async () => {
        this.readAhead.forget(group);
        this.due.forget(group);
        const state = loaded.get(group);
        if (state) this.groups.set(group, state);
        else this.groups.delete(group);
      });
    }
    this.mode = "serving";
    // Dead letters a crash (or the previous coordinator) left unfinished; a failure is retried by the next sweep.
    await this.sweepAll();
    this.sweeper = setInterval(() => void this.sweepAll(), SWEEP_INTERVAL_MS);
    this.sweeper.unref?.();
  }

  /**
   * Cluster mode, another gateway coordinates: stops the sweep, waits for each group's request in
   * progress and drops the state; a request still waiting (a long-poll) gets NOT_LEADER.
   */
  async suspend(): Promise<void> {
    this.mode = "dormant";
    this.close();
    for (const group of [...this.groups.keys()]) {
      await this.locks.run(group, async () => {
        this.readAhead.forget(group);
        this.due.forget(group);
        this.groups.delete(group);
      });
    }
  }

  defaultConfig(): QueueConfig {
    return { max_deliveries: 5, backoff: { initial_ms: 1000, max_ms: 60_000, multiplier: 2, jitter: "full" }, visibility_ms: this.limits.defaultVisibilityMs };
  }

  list(): QueueSummary[] {
    return [...this.groups.values()].map((s) => ({ group: s.group, streams: [...new Set([...s.partitions.values()].map((p) => p.stream))].sort() }));
  }

  /** The streams a group has state for (routes authorise against them). */
  streamsOf(group: string): string[] {
    const state = this.groups.get(group);
    return state ? [...new Set([...state.partitions.values()].map((p) => p.stream))] : [];
  }

  describe(group: string): QueueDescription {
    const state = this.require(group);
    const now = Date.now();
    const partitions: QueuePartitionCounts[] = [];
    const totals: QueueCounts = { in_flight: 0, pending: 0, redelivered: 0, dead_lettered: 0, acked: 0 };
    for (const p of state.partitions.values()) {
      const end = this.endOffset(p.stream, p.partition);
      const counts: QueuePartitionCounts = { stream: p.stream, partition: p.partition, cursor: p.cursor, end_offset: end, in_flight: 0, pending: Math.max(0, end - p.cursor), redelivered: p.redelivered, dead_lettered: p.deadLettered, acked: p.acked };
      for (const r of p.records.values()) {
        if (r.state.kind === "in_flight" && r.state.deadline > now) counts.in_flight++;
        else counts.pending++;
      }
      partitions.push(counts);
      for (const k of ["in_flight", "pending", "redelivered", "dead_lettered", "acked"] as const) totals[k] += counts[k];
    }
    partitions.sort((a, b) => (a.stream === b.stream ? a.partition - b.partition : a.stream < b.stream ? -1 : 1));
    return { group, config: state.config, partitions, totals };
  }

  /** Creates the group when missing; what `input` names replaces the current configuration. */
  configure(group: string, input: QueueConfigInput): Promise<QueueConfig> {
    return this.exclusive(group, async () => {
      const state = this.getOrCreate(group);
      const config: QueueConfig = { ...state.config, ...input };
      this.checkConfig(config);
      const changes = new QueueChanges();
      changes.configChanged = true;
      state.config = config;
      return { value: config, committed: this.persist(state, changes) };
    });
  }

  /** Up to max_records deliveries; with wait_ms, long-polls until one is claimable or the wait ends. */
  async claim(group: string, request: ClaimRequest, signal?: AbortSignal, authorization?: string): Promise<ClaimedRecord[]> {
    checkGroupName(group);
    if (request.streams.length > this.limits.maxStreamsPerClaim) throw new StrataError("BAD_REQUEST", `a claim lists at most ${this.limits.maxStreamsPerClaim} streams`);
    if (new Set(request.streams).size !== request.streams.length) throw new StrataError("BAD_REQUEST", "streams must not repeat");
    for (const stream of request.streams) this.streams.require(stream);
    if (request.filter !== undefined) compileFilter(request.filter);
    const maxRecords = Math.min(request.max_records ?? this.limits.defaultClaimRecords, this.limits.maxClaimRecords);
    if (request.visibility_ms !== undefined && request.visibility_ms > this.limits.maxVisibilityMs) {
      throw new StrataError("BAD_REQUEST", `visibility_ms must be at most ${this.limits.maxVisibilityMs}`);
    }
    const until = Date.now() + Math.min(request.wait_ms ?? 0, this.limits.maxWaitMs);
    for (;;) {
      if (this.log.routing !== undefined) await Promise.all(request.streams.map((stream) => this.streams.info(stream)));
      const claimed = await this.exclusive(group, async () => {
        if (authorization === undefined) this.claimAuthorization.delete(group);
        else this.claimAuthorization.set(group, authorization);
        return this.claimNow(group, request, maxRecords);
      });
      for (const c of claimed) this.deliveries?.delivered(c.stream, [c.raw]);
      if (claimed.length > 0 || Date.now() >= until || signal?.aborted) return claimed;
      await this.waitForWork(group, request.streams, until, signal);
    }
  }

  ack(group: string, receipts: readonly string[]): Promise<AckResponse> {
    return this.exclusive(group, async () => {
      const state = this.require(group);
      const changes = new QueueChanges();
      const stale: string[] = [];
      let acked = 0;
      const ackedPerStream = new Map<string, number>();
      for (const receipt of receipts) {
        const found = this.current(state, receipt);
        if (!found) {
          stale.push(receipt);
          continue;
        }
        transitions.ack(found.record);
        found.partition.records.delete(found.record.offset);
        found.partition.acked++;
        changes.touch(found.partition, found.record);
        ackedPerStream.set(found.record.stream, (ackedPerStream.get(found.record.stream) ?? 0) + 1);
        acked++;
        this.processing?.acked(group, receipt);
      }
      // Counted once per stream, not per record: labelling is a measurable share of an ack's CPU.
      for (const [stream, n] of ackedPerStream) this.metrics.acked.inc({ group, stream }, n);
      return { value: { acked, stale }, committed: this.persist(state, changes) };
    });
  }

  nack(group: string, request: NackRequest): Promise<NackResponse> {
    if (request.delay_ms !== undefined && request.delay_ms > this.limits.maxBackoffMs) throw new StrataError("BAD_REQUEST", `delay_ms must be at most ${this.limits.maxBackoffMs}`);
    const error = request.error === undefined ? null : truncateUtf8(request.error, this.limits.maxErrorBytes);
    return this.exclusive(group, async () => {
      const state = this.require(group);
      const changes = new QueueChanges();
      const stale: string[] = [];
      let nacked = 0;
      let deadLettered = 0;
      const now = Date.now();
      for (const receipt of request.receipts) {
        const found = this.current(state, receipt);
        if (!found) {
          stale.push(receipt);
          continue;
        }
        nacked++;
        this.metrics.nacked.inc({ group, stream: found.record.stream });
        const delay = request.delay_ms ?? backoffDelay(state.config.backoff, found.record.deliveries);
        if (this.fail(state, found.partition, found.record, now + delay, error, changes)) deadLettered++;
      }
      const { committed } = await this.deadLetter(state, this.persist(state, changes), deadLettered > 0);
      return { value: { nacked, dead_lettered: deadLettered, stale }, committed };
    });
  }

  // ---- internals ----

  /**
   * Runs `task` under the group's lock (it changes memory and submits its rows), then waits for
   * its commit outside the lock, so the next request's changes join the next transaction.
   */
  private async exclusive<T>(group: string, task: () => Promise<{ value: T; committed: Promise<void> }>): Promise<T> {
    const { value, committed } = await this.locks.run(group, async () => {
      if (this.mode === "dormant" || !this.mayWrite()) throw new StrataError("NOT_LEADER", "this gateway does not coordinate the queues (any more); retry");
      const done = await task();
      done.committed.catch(() => undefined); // awaited below; marked handled while the lock is released
      return done;
    });
    await committed;
    return value;
  }

  private async claimNow(group: string, request: ClaimRequest, maxRecords: number): Promise<{ value: ClaimedRecord[]; committed: Promise<void> }> {
    const state = this.getOrCreate(group);
    const now = Date.now();
    const visibility = request.visibility_ms ?? state.config.visibility_ms;
    const changes = new QueueChanges();
    const expiredToDeadLetters = this.expire(state, now, changes);
    const out: ClaimedRecord[] = [];
    let unsettled = 0;
    for (const p of state.partitions.values()) unsettled += p.records.size;
    for (const stream of request.streams) {
      if (out.length >= maxRecords) break;
      await this.claimRedeliveries(state, stream, now, now + visibility, maxRecords, out, changes);
      if (out.length >= maxRecords || unsettled >= this.limits.maxInFlightPerQueue) continue;
      unsettled += await this.claimNew(state, stream, now + visibility, Math.min(maxRecords - out.length, this.limits.maxInFlightPerQueue - unsettled), request.filter, out, changes);
    }
    if (out.length > 0) this.processing?.claimed(group, out);
    const { committed } = await this.deadLetter(state, this.persist(state, changes), expiredToDeadLetters > 0);
    return { value: out, committed };
  }

  /** Due redeliveries of one stream, oldest first. */
  private async claimRedeliveries(state: QueueState, stream: string, now: number, deadline: number, maxRecords: number, out: ClaimedRecord[], changes: QueueChanges): Promise<void> {
    if (!this.due.mayRedeliver(state.group, stream, now)) return;
    const due: [PartitionQueue, QueuedRecord][] = [];
    let nextVisible = Number.POSITIVE_INFINITY;
    for (const p of state.partitions.values()) {
      if (p.stream !== stream) continue;
      for (const r of p.records.values()) {
        if (r.state.kind !== "pending") continue;
        if (r.state.visibleAt <= now) due.push([p, r]);
        else nextVisible = Math.min(nextVisible, r.state.visibleAt);
      }
    }
    due.sort(([, a], [, b]) => visibleAt(a) - visibleAt(b) || a.offset - b.offset);
    // Due records this claim has no room for keep the bound at now: the next claim scans again.
    this.due.rescanned(state.group, stream, due.length > maxRecords - out.length ? now : nextVisible);
    for (const [p, r] of due) {
      if (out.length >= maxRecords) return;
      const read = await this.readPartition(state.group, { stream, partition: p.partition, offset: Math.max(r.offset, this.startOffset(stream, p.partition)), maxRecords: 1 });
      const raw = read.records[0];
      if (raw === undefined || raw.offset !== r.offset) {
        // Retention removed it: nothing left to deliver, so it counts as settled.
        log.warn("queue {group}: {stream}/{partition}@{offset} was removed by retention before its redelivery", { group: state.group, stream, partition: p.partition, offset: r.offset });
        p.records.delete(r.offset);
        transitions.removeByRetention(r);
        changes.touch(p, r);
        continue;
      }
      const receipt = newReceipt({ stream, partition: p.partition, offset: r.offset, delivery: r.deliveries + 1 });
      transitions.redeliver(r, receipt, deadline, now);
      this.due.inFlight(state.group, deadline);
      p.redelivered++;
      this.metrics.deliveries.inc({ group: state.group, stream });
      this.metrics.redeliveries.inc({ group: state.group, stream });
      changes.touch(p, r);
      out.push({ receipt, stream, partition: p.partition, deliveries: r.deliveries, raw });
    }
  }

  /** Never-delivered records of one stream, its partitions taken in turn from a rotating start; how many were claimed. */
  private async claimNew(state: QueueState, stream: string, deadline: number, wanted: number, filter: string | undefined, out: ClaimedRecord[], changes: QueueChanges): Promise<number> {
    const partitions = this.streams.require(stream).partitions;
    const first = this.roundRobin++ % partitions;
    let claimed = 0;
    // Rounds over the partitions, each taking its share of what is still wanted, until the
    // claim is full or a round finds nothing more (fair when several have records).
    for (let progress = true; progress && claimed < wanted; ) {
      progress = false;
      for (let i = 0; i < partitions && claimed < wanted; i++) {
        const moved = await this.claimFromPartition(state, stream, (first + i) % partitions, deadline, Math.ceil((wanted - claimed) / (partitions - i)), filter, out, changes);
        claimed += moved.claimed;
        progress ||= moved.advanced;
      }
    }
    return claimed;
  }

  /** Up to `share` never-delivered records of one partition; how many were claimed and whether the cursor moved. */
  private async claimFromPartition(state: QueueState, stream: string, partition: number, deadline: number, share: number, filter: string | undefined, out: ClaimedRecord[], changes: QueueChanges): Promise<{ claimed: number; advanced: boolean }> {
    let claimed = 0;
    const p = this.partitionOf(state, stream, partition, changes);
    const end = this.endOffset(stream, partition);
    if (p.cursor >= end) return { claimed: 0, advanced: false };
    const read = await this.readNew(state.group, stream, partition, p.cursor, share, filter);
    for (const raw of read.records) {
      invariant(raw.offset >= p.cursor && !p.records.has(raw.offset), `claim ${stream}/${partition}@${raw.offset}: at or past the cursor ${p.cursor} and never delivered`);
      const receipt = newReceipt({ stream, partition, offset: raw.offset, delivery: 1 });
      const queued = transitions.firstDelivery(stream, partition, raw.offset, receipt, deadline);
      this.due.inFlight(state.group, deadline);
      p.records.set(raw.offset, queued);
      changes.touch(p, queued);
      out.push({ receipt, stream, partition, deliveries: 1, raw });
      claimed++;
    }
    if (claimed > 0) this.metrics.deliveries.inc({ group: state.group, stream }, claimed);
    invariant(read.nextOffset >= p.cursor, `claim ${stream}/${partition}: the read went back from ${p.cursor} to ${read.nextOffset}`);
    p.filtered += read.nextOffset - p.cursor - read.records.length;
    const advanced = read.nextOffset > p.cursor;
    p.cursor = read.nextOffset;
    changes.touch(p);
    return { claimed, advanced };
  }

  /**
   * Up to `share` records from `cursor` (the matching ones, with a filter) and the offset after
   * those examined. Without a filter a read takes at least READ_AHEAD_RECORDS and keeps what the
   * claim does not take for the partition's next claim (read-ahead.ts).
   */
  private async readNew(group: string, stream: string, partition: number, cursor: number, share: number, filter: string | undefined): Promise<{ records: RawRecord[]; nextOffset: number }> {
    if (filter !== undefined) return this.readPartition(group, { stream, partition, offset: cursor, maxRecords: share, filter });
    const key = ReadAhead.key(group, stream, this.streams.require(stream).createdAt, partition);
    const kept = this.readAhead.take(key, cursor, share);
    if (kept !== undefined) return { records: kept, nextOffset: kept[kept.length - 1]!.offset + 1 };
    const read = await this.readPartition(group, { stream, partition, offset: cursor, maxRecords: Math.max(share, READ_AHEAD_RECORDS) });
    const records = read.records.slice(0, share);
    this.readAhead.keep(key, read.records.slice(share));
    return { records, nextOffset: records.length > 0 ? records[records.length - 1]!.offset + 1 : read.nextOffset };
  }

  /**
   * In-flight records past their deadline become pending (with backoff) or dead letters; how many
   * became dead letters. Walks the group's records only when its earliest deadline may have
   * passed (due-bounds.ts), and leaves the exact bounds it saw.
   */
  private expire(state: QueueState, now: number, changes: QueueChanges): number {
    if (!this.due.mayExpire(state.group, now)) return 0;
    let deadLettered = 0;
    let expiry = Number.POSITIVE_INFINITY;
    const redelivery = new Map<string, number>();
    for (const p of state.partitions.values()) {
      for (const r of p.records.values()) {
        if (r.state.kind === "in_flight" && r.state.deadline <= now) {
          const base = r.state.deadline;
          this.metrics.expired.inc({ group: state.group, stream: r.stream });
          if (this.fail(state, p, r, base + backoffDelay(state.config.backoff, r.deliveries), EXPIRED, changes)) deadLettered++;
        }
        if (r.state.kind === "in_flight") expiry = Math.min(expiry, r.state.deadline);
        else if (r.state.kind === "pending") redelivery.set(r.stream, Math.min(redelivery.get(r.stream) ?? Number.POSITIVE_INFINITY, r.state.visibleAt));
      }
    }
    this.due.scanned(state.group, expiry, redelivery);
    return deadLettered;
  }

  /** A failed delivery: pending again at `visibleAt`, or a dead letter when it was the last allowed (true). */
  private fail(state: QueueState, p: PartitionQueue, r: QueuedRecord, visibleAt: number, error: string | null, changes: QueueChanges): boolean {
    changes.touch(p, r);
    if (r.deliveries >= state.config.max_deliveries) {
      transitions.startDeadLetter(r, p.dlqSeq++, error);
      return true;
    }
    transitions.retryLater(r, visibleAt, error);
    this.due.pending(state.group, r.stream, visibleAt);
    return false;
  }

  /**
   * Under the lock, after `intent` was submitted: when dead letters are in progress, waits for the
   * intent's commit (a dead letter is recorded before it is published), publishes them and
   * submits their settling; the commit to wait for.
   */
  private async deadLetter(state: QueueState, intent: Promise<void>, mayHaveNew: boolean): Promise<Pending> {
    // Only requests that made dead letters (and the sweep, which retries unpublished ones) look.
    if (!mayHaveNew) return { committed: intent };
    let any = false;
    for (const p of state.partitions.values()) for (const r of p.records.values()) any ||= r.state.kind === "dead_lettering";
    if (!any) return { committed: intent };
    await intent;
    return this.publishDeadLetters(state);
  }

  /** Publishes every dead letter in progress, per partition in seq order, then submits their settling (one snapshot). */
  private async publishDeadLetters(state: QueueState): Promise<Pending> {
    const changes = new QueueChanges();
    for (const p of state.partitions.values()) {
      const pending = [...p.records.values()].filter((r) => r.state.kind === "dead_lettering").sort((a, b) => dlqSeqOf(a) - dlqSeqOf(b));
      for (const r of pending) {
        try {
          await this.deadLetters.publish(state.group, r, dlqSeqOf(r));
        } catch (e) {
          // The rest of this partition waits: its producer's sequence must stay in order. The sweep retries.
          log.error("queue {group}: dead letter of {stream}/{partition}@{offset} not published yet: {error}", { group: state.group, stream: p.stream, partition: p.partition, offset: r.offset, error: String(e) });
          break;
        }
        transitions.finishDeadLetter(r);
        p.records.delete(r.offset);
        p.deadLettered++;
        changes.touch(p, r);
        this.metrics.deadLettered.inc({ group: state.group, stream: r.stream });
      }
    }
    return { committed: this.persist(state, changes) };
  }

  private async sweepAll(): Promise<void> {
    for (const group of [...this.groups.keys()]) {
      try {
        await this.locks.run(group, () => this.sweep(group));
      } catch (e) {
        log.error("queue {group}: sweep failed: {error}", { group, error: String(e) });
      }
    }
  }

  private async sweep(group: string): Promise<void> {
    const state = this.groups.get(group);
    if (!state || this.mode === "dormant" || !this.mayWrite()) return;
    const changes = new QueueChanges();
    this.expire(state, Date.now(), changes);
    await (await this.deadLetter(state, this.persist(state, changes), true)).committed;
  }

  /**
   * Submits the changes' rows for the group's next transaction; resolves once committed. A state
   * object a reload replaced (after a failed write) is refused: its changes may build on rows the
   * database never got.
   */
  private persist(state: QueueState, changes: QueueChanges): Promise<void> {
    if (changes.empty) return Promise.resolve();
    if (this.groups.get(state.group) !== state) return Promise.reject(new StrataError("UNAVAILABLE", `queue '${state.group}' was reloaded after a failed write; retry`));
    return this.batcherOf(state.group).submit(this.store.snapshot(state, changes));
  }

  private batcherOf(group: string): WriteBatcher<WriteSet> {
    let batcher = this.batchers.get(group);
    if (!batcher) {
      batcher = new WriteBatcher<WriteSet>(
        (sets) => {
          this.metrics.requestsPerCommit.observe(sets.length);
          return this.store.write(sets);
        },
        async (e) => {
          log.error("queue {group}: a metadata write failed, reloading the group: {error}", { group, error: String(e) });
          await this.locks.run(group, async () => {
            this.readAhead.forget(group);
            this.due.forget(group);
            const [reloaded] = await this.store.load(group);
            if (reloaded && this.mode === "serving") this.groups.set(group, reloaded);
            else this.groups.delete(group);
          });
        },
      );
      this.batchers.set(group, batcher);
    }
    return batcher;
  }

  /** Waits until new records may be in one of the streams, a claim comes due, or `until`. */
  private async waitForWork(group: string, streams: readonly string[], until: number, signal?: AbortSignal): Promise<void> {
    const state = this.groups.get(group);
    let wake = until;
    const abort = new AbortController();
    const waits: Promise<unknown>[] = [];
    const onAbort = () => abort.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    for (const stream of streams) {
      const partitions = this.streams.require(stream).partitions;
      for (let partition = 0; partition < partitions; partition++) {
        const cursor = state?.partitions.get(partitionKey(stream, partition))?.cursor ?? 0;
        const end = this.endOffset(stream, partition);
        if (cursor < end) continue; // unclaimed records wait behind the in-flight bound: the timer decides
        waits.push(this.readPartition(group, { stream, partition, offset: end, maxRecords: 1, waitMs: Math.max(1, until - Date.now()), signal: abort.signal }).catch(() => undefined));
      }
      for (const p of state?.partitions.values() ?? []) {
        if (p.stream !== stream) continue;
        for (const r of p.records.values()) {
          if (r.state.kind === "pending") wake = Math.min(wake, r.state.visibleAt);
          else if (r.state.kind === "in_flight") wake = Math.min(wake, r.state.deadline);
        }
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, wake - Date.now()));
    });
    try {
      await Promise.race([timeout, ...waits, new Promise((resolve) => abort.signal.addEventListener("abort", resolve, { once: true }))]);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      abort.abort();
    }
  }

  /** The in-flight record a receipt names, if it is the current delivery. */
  private current(state: QueueState, receipt: string): { partition: PartitionQueue; record: QueuedRecord } | undefined {
    const parts = parseReceipt(receipt);
    if (!parts) return undefined;
    const partition = state.partitions.get(partitionKey(parts.stream, parts.partition));
    const record = partition?.records.get(parts.offset);
    if (!partition || !record || record.state.kind !== "in_flight" || record.state.receipt !== receipt) return undefined;
    return { partition, record };
  }

  private partitionOf(state: QueueState, stream: string, partition: number, changes: QueueChanges): PartitionQueue {
    const key = partitionKey(stream, partition);
    let p = state.partitions.get(key);
    if (!p) {
      // A new queue partition starts at the earliest retained record.
      p = emptyPartition(stream, partition, this.startOffset(stream, partition));
      state.partitions.set(key, p);
      changes.touch(p);
    }
    const start = this.startOffset(stream, partition);
    if (p.cursor < start) {
      log.warn("queue {group}: {stream}/{partition} records below {start} were removed by retention before their first delivery", { group: state.group, stream, partition, start });
      p.cursor = start;
      changes.touch(p);
    }
    return p;
  }

  private getOrCreate(group: string): QueueState {
    checkGroupName(group);
    let state = this.groups.get(group);
    if (!state) {
      if (this.groups.size >= this.limits.maxQueues) throw new StrataError("BAD_REQUEST", `this gateway keeps at most ${this.limits.maxQueues} queues (queues.maxQueues)`);
      state = { group, config: this.defaultConfig(), createdAt: Date.now(), partitions: new Map() };
      this.groups.set(group, state);
    }
    return state;
  }

  private require(group: string): QueueState {
    checkGroupName(group);
    const state = this.groups.get(group);
    if (!state) throw new StrataError("NOT_FOUND", `no queue '${group}'`);
    return state;
  }

  private checkConfig(config: QueueConfig): void {
    const { limits } = this;
    if (config.max_deliveries > limits.maxDeliveriesCap) throw new StrataError("BAD_REQUEST", `max_deliveries must be at most ${limits.maxDeliveriesCap}`);
    if (config.visibility_ms > limits.maxVisibilityMs) throw new StrataError("BAD_REQUEST", `visibility_ms must be at most ${limits.maxVisibilityMs}`);
    if (config.backoff.max_ms > limits.maxBackoffMs) throw new StrataError("BAD_REQUEST", `backoff.max_ms must be at most ${limits.maxBackoffMs}`);
    if (config.backoff.initial_ms > config.backoff.max_ms) throw new StrataError("BAD_REQUEST", "backoff.initial_ms must be at most backoff.max_ms");
  }

  /**
   * A read of one partition for a claim: LogService reads it here or, in cluster mode, from its
   * leader, with the claim's Authorization (the gateway's credential when the claim has none).
   */
  private readPartition(group: string, request: Omit<ReadRequest, "fields">): Promise<RawReadResult> {
    const authorization = this.claimAuthorization.get(group);
    return this.log.readRaw(request, authorization === undefined ? undefined : { authorization });
  }

  private startOffset(stream: string, partition: number): number {
    return this.streams.get(stream).partitions[partition]!.start_offset;
  }

  private endOffset(stream: string, partition: number): number {
    return this.streams.get(stream).partitions[partition]!.end_offset;
  }
}

function checkGroupName(group: string): void {
  if (!GROUP_NAME.test(group)) throw new StrataError("BAD_REQUEST", `queue group must match ${GROUP_NAME.source}`);
}

function visibleAt(r: QueuedRecord): number {
  return r.state.kind === "pending" ? r.state.visibleAt : Number.POSITIVE_INFINITY;
}

function dlqSeqOf(r: QueuedRecord): number {
  invariant(r.state.kind === "dead_lettering", `dlq seq of ${transitions.describe(r)}: not dead-lettering`);
  return r.state.dlqSeq;
}

/** At most `maxBytes` of UTF-8, cut at a character boundary. */
function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= maxBytes) return text;
  return new TextDecoder().decode(bytes.subarray(0, maxBytes)).replace(/\uFFFD$/, "");
}
