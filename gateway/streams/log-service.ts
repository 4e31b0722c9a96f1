// Publishing and reading records: partition assignment, record limits, producer sequencing,
// field projection and long-polling. Every transport calls this; none of it lives in a route.
import { BATCH_HEADER_SIZE, BatchBuilder, decodeBatchRecords, encodeRecordShared, scanBatchRecords, type BatchHeader, type RawRecord } from "../../core/log/batch.ts";
import { collectArtefactRefs } from "../../core/log/artefact-refs.ts";
import { stampBatchTimestamp } from "../../core/log/batch-stamp.ts";
import { buildClientBatch, parseClientBatch, type ClientBatch } from "../../core/log/client-batch.ts";
import { invariant, StrataError } from "../../core/errors.ts";
import { partitionForKey } from "../../core/log/partitioner.ts";
import type { Acks, Fields, LogRecord, ProducerRef, RecordInput } from "../../core/log/record.ts";
import type { PublishRequest } from "../../core/log/publish-request.ts";
import type { GatewayMetrics } from "../metrics.ts";
import type { LogStore } from "../log/log-store.ts";
import type { PartitionLog } from "../log/partition-log.ts";
import { selectRecords, type SelectionBounds } from "../log/record-selection.ts";
import type { ServiceLimits } from "./service-limits.ts";
import { KeyedLock } from "../../core/util/keyed-lock.ts";
import { compileFilter, type RecordFilter } from "../filters/record-filter.ts";
import { DEFAULT_FILTER_LIMITS, type FilterLimits } from "../filters/filter-limits.ts";
import { scanFiltered } from "../filters/filtered-scan.ts";
import { judgePartitionSequence, judgeSequence, type ProducerOwnership, type ProducerPosition } from "./producer-sequencer.ts";
import type { ClusterRouting, PartitionRoute } from "./partition-route.ts";
import type { StreamConfig, StreamService } from "./stream-service.ts";
import type { AppendTicket } from "./latest-service.ts";
import { decodeRawRecord } from "../queues/raw-record.ts";
import { isInternalStreamName } from "../../core/log/stream-name.ts";
import type { LogAnomalyHooks } from "../observability/anomaly-monitor.ts";
import type { ReadObserver, ReadTransport } from "../observability/stream-metrics.ts";

export interface RecordPosition {
  readonly partition: number;
  readonly offset: number;
}

export interface ReadRequest {
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
  readonly maxRecords?: number;
  readonly maxBytes?: number;
  readonly fields?: readonly string[];
  readonly waitMs?: number;
  /**
   * A CEL expression (docs/filters.md): only matching records are returned, and nextOffset is
   * past every record examined, so [offset, nextOffset) with the filter is a replayable selection.
   */
  readonly filter?: string;
  readonly signal?: AbortSignal;
  /** The consumer group the read is for (the group consumer sends it): the start of its processing time (docs/anomalies.md). */
  readonly group?: string;
  /** Set by transports (not by the services' own reads): the records count as delivered, a wait as a long-poll (docs/metrics.md). */
  readonly transport?: ReadTransport;
}

export interface ReadResult {
  readonly stream: string;
  readonly records: LogRecord[];
  readonly nextOffset: number;
  readonly endOffset: number;
}

export interface RawReadResult {
  readonly stream: string;
  readonly records: RawRecord[];
  readonly nextOffset: number;
  readonly endOffset: number;
}

/** An appended record holding ArtefactRefs: where it went, its gateway timestamp and its fields. */
export interface AppendedArtefactRecord {
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly fields: Fields;
}

/** Optional callbacks of the append path. */
export interface LogHooks {
  /** Called (and awaited before the answer) for each appended record holding ArtefactRefs. */
  readonly onArtefactRefs?: (stream: string, partition: number, offset: number, manifestIds: readonly string[]) => Promise<void>;
  /** Called after onArtefactRefs with the record as stored (the versions index, versions-service.ts). */
  readonly onArtefactRecord?: (record: AppendedArtefactRecord) => Promise<void>;
  /**
   * Called before a request's records are encoded; may refuse them (nothing written). Its ticket
   * is settled with the positions the records got, also those of partitions that were written
   * when another failed (the latest-per-key index of compacted streams, latest-service.ts). In
   * cluster mode every append goes to one partition, named by `partition`.
   */
  readonly admit?: (config: StreamConfig, records: readonly RecordInput[], partition?: number) => AppendTicket | undefined | Promise<AppendTicket | undefined>;
  /** Told about each appended batch (record size and rate) and each read for a group (docs/anomalies.md). */
  readonly anomalies?: LogAnomalyHooks;
  /** Told about transports' reads: records delivered (end-to-end latency) and long-polls (gateway/observability/stream-metrics.ts). */
  readonly reads?: ReadObserver;
}

/**
 * Cluster mode's read of a partition led elsewhere, as readRaw answers it (the composition root
 * hands one in; gateway/queues/remote-read.ts reads the leader's MessagePack read route).
 */
export type LeaderRawRead = (leader: { readonly url: string; readonly node: string }, request: Omit<ReadRequest, "fields">, authorization: string | undefined) => Promise<RawReadResult>;

/** What the log service needs in cluster mode: the router, the forwarder and, for raw reads of partitions led elsewhere, a leader reader. */
export interface LogServiceCluster extends ClusterRouting {
  readonly readFromLeader?: LeaderRawRead;
  /** With auth on: the gateway's own `Authorization` for the services' internal publishes and reads (gateway/cluster/gateway-credential.ts). */
  readonly gatewayAuthorization?: () => Promise<string>;
  /** With auth on: the subject of the gateways' own tokens, whose forwarded publishes may write internal `_strata/` streams. */
  readonly gatewaySubject?: string;
}

/** Who publishes: the authenticated subject (absent when the gateway runs without auth). */
export interface Publisher {
  readonly subject: string;
}

/**
 * How a request reached this gateway; matters in cluster mode only (docs/cluster.md). Transports
 * always pass one (its authorization absent without auth); the services' own calls pass none.
 */
export interface RequestVia {
  /** The caller's `Authorization` header, sent on with what is forwarded to other leaders. */
  readonly authorization?: string;
  /** Forwarded by another gateway (`strata-forwarded: 1`): never forwarded again; NOT_LEADER unless led here. */
  readonly forwarded?: boolean;
}

export class LogService {
  private readonly producerLocks: KeyedLock;
  private roundRobin = 0;
  private waiters = 0;

  constructor(
    private readonly streams: StreamService,
    private readonly logs: LogStore,
    private readonly metrics: GatewayMetrics,
    private readonly limits: ServiceLimits,
    private readonly hooks: LogHooks = {},
    /** Producer ids' owners; required once publishes name a subject (auth on). */
    private readonly producerOwners?: ProducerOwnership,
    private readonly filterLimits: FilterLimits = DEFAULT_FILTER_LIMITS,
    /** Cluster mode: partitions led elsewhere are forwarded to their leader (docs/cluster.md). */
    private readonly cluster?: LogServiceCluster,
  ) {
    this.producerLocks = new KeyedLock(limits.maxStreams * 16, () => new StrataError("UNAVAILABLE", "too many producers publishing at once"));
  }

  /** Cluster mode's router and forwarder (the HTTP read proxy uses the same), else undefined. */
  get routing(): ClusterRouting | undefined {
    return this.cluster;
  }

  /**
   * Appends a request's records. With a `publisher` (auth on), a producer id must be the
   * publisher's subject's: the first use registers it, another subject's is FORBIDDEN before
   * its sequence is judged, so it neither writes nor fences.
   */
  async publish(stream: string, request: PublishRequest, acks: Acks = "local", publisher?: Publisher, via?: RequestVia): Promise<RecordPosition[]> {
    this.refuseOutsideWrite(stream, publisher, via);
    const config = await this.streams.lookup(stream);
    if (this.cluster) return this.publishRouted(config, request, acks, publisher, via);
    const producer = request.producer;
    if (!producer) return this.append(config, request.records, null, acks);
    return this.producerLocks.run(`${stream}\u0000${producer.id}`, async () => {
      if (publisher) {
        invariant(this.producerOwners !== undefined, "a publish names a subject but the log service has no producer owners");
        await this.producerOwners.claim(producer.id, publisher.subject);
      }
      const verdict = judgeSequence(producer, this.producerPosition(config, producer.id));
      return this.append(config, request.records, producer, acks, verdict === "retry");
    });
  }

  /**
   * Appends a client-built batch (core/log/client-batch.ts; validated by parseClientBatch before anything else) to one
   * partition as it is: its records are not re-encoded; the gateway stamps its clock into the
   * header and the log sets the base offset. `partition` absent: the partition every keyed record
   * hashes to (BAD_BATCH when they disagree), else the sticky choice of an unkeyed publish.
   * Producer ownership, sequence rules and the append hooks are those of publish(). `body`
   * becomes the log's (its header is written in place): the caller must not reuse it.
   */
  async publishBatch(stream: string, body: Uint8Array, options: { partition?: number; acks?: Acks } = {}, publisher?: Publisher, via?: RequestVia): Promise<RecordPosition[]> {
    this.refuseOutsideWrite(stream, publisher, via);
    const config = await this.streams.lookup(stream);
    const batch = parseClientBatch(body, this.batchLimits());
    const producer = batch.producer;
    const acks = options.acks ?? "local";
    if (this.cluster) {
      const partition = this.batchPartition(config, batch, options.partition);
      return this.publishPart(config, partition, this.routeOf(config, partition, via), batch, acks, publisher, via);
    }
    if (!producer) return this.appendClientBatch(config, batch, this.batchPartition(config, batch, options.partition), acks, false);
    return this.producerLocks.run(`${stream}\u0000${producer.id}`, async () => {
      if (publisher) {
        invariant(this.producerOwners !== undefined, "a publish names a subject but the log service has no producer owners");
        await this.producerOwners.claim(producer.id, publisher.subject);
      }
      const verdict = judgeSequence(producer, this.producerPosition(config, producer.id));
      return this.appendClientBatch(config, batch, this.batchPartition(config, batch, options.partition), acks, verdict === "retry");
    });
  }

  /**
   * Internal `_strata/` streams are written by the gateways only: a transport's publish (`via`
   * given) is FORBIDDEN, except one another gateway forwarded (cluster mode; with auth on, under
   * the gateways' own subject).
   */
  private refuseOutsideWrite(stream: string, publisher: Publisher | undefined, via: RequestVia | undefined): void {
    if (via === undefined || !isInternalStreamName(stream)) return;
    const cluster = this.cluster;
    if (cluster !== undefined && via.forwarded === true && (publisher === undefined || publisher.subject === cluster.gatewaySubject)) return;
    throw new StrataError("FORBIDDEN", `'${stream}' is written by the gateways only`);
  }

  private batchLimits() {
    return { ...this.limits, maxBatchBytes: this.logs.maxBatchBytes };
  }

  /**
   * Cluster mode: the request's records split per partition into client-built batches, all
   * checked before anything is written; each is appended here (a partition led here) or
   * forwarded to its leader, in parallel, and the positions answered in the request's order.
   */
  private async publishRouted(config: StreamConfig, request: PublishRequest, acks: Acks, publisher: Publisher | undefined, via: RequestVia | undefined): Promise<RecordPosition[]> {
    const producer = request.producer ?? null;
    const assigned = this.assignPartitions(config, request.records, producer);
    const parts = new Map<number, number[]>();
    assigned.forEach((p, i) => {
      const indexes = parts.get(p);
      if (indexes) indexes.push(i);
      else parts.set(p, [i]);
    });
    const clientProducer = producer ? { id: producer.id, epoch: producer.epoch, baseSequence: producer.seq } : undefined;
    const planned = [...parts].map(([partition, indexes]) => ({
      partition,
      indexes,
      route: this.routeOf(config, partition, via),
      batch: parseClientBatch(buildClientBatch(indexes.map((i) => request.records[i]!), clientProducer), this.batchLimits()),
    }));
    const positions: RecordPosition[] = new Array(request.records.length);
    await Promise.all(
      planned.map(async ({ partition, indexes, route, batch }) => {
        const written = await this.publishPart(config, partition, route, batch, acks, publisher, via);
        invariant(written.length === indexes.length, `partition ${partition} answered ${written.length} positions for ${indexes.length} records`);
        indexes.forEach((recordIndex, k) => (positions[recordIndex] = written[k]!));
      }),
    );
    return positions;
  }

  /** Where a partition is served; a forwarded request must find it here (never forwarded twice). */
  private routeOf(config: StreamConfig, partition: number, via: RequestVia | undefined): PartitionRoute {
    invariant(this.cluster !== undefined, "routing outside cluster mode");
    const route = this.cluster.router.route(config.name, partition);
    if (via?.forwarded && route.kind !== "local") {
      throw new StrataError("NOT_LEADER", `partition ${partition} of '${config.name}' is not led by this gateway (a forwarded request is never forwarded again); retry`);
    }
    return route;
  }

  /**
   * The Authorization sent with what goes to a leader: the caller's (`via`, absent without auth);
   * for the services' own calls, which pass no `via`, the gateway's credential.
   */
  private async authorizationFor(via: RequestVia | undefined): Promise<string | undefined> {
    return via !== undefined ? via.authorization : this.cluster?.gatewayAuthorization?.();
  }

  /** One partition's batch in cluster mode: appended here under the partition's producer rules, or sent to its leader as it is. */
  private async publishPart(config: StreamConfig, partition: number, route: PartitionRoute, batch: ClientBatch, acks: Acks, publisher: Publisher | undefined, via: RequestVia | undefined): Promise<RecordPosition[]> {
    if (route.kind === "remote") {
      invariant(this.cluster !== undefined, "a remote route outside cluster mode");
      return this.cluster.forwarder.forward(route, { stream: config.name, partition, body: batch.bytes, acks, authorization: await this.authorizationFor(via) });
    }
    const producer = batch.producer;
    if (!producer) return this.appendClientBatch(config, batch, partition, acks, false);
    return this.producerLocks.run(`${config.name}\u0000${producer.id}\u0000${partition}`, async () => {
      if (publisher) {
        invariant(this.producerOwners !== undefined, "a publish names a subject but the log service has no producer owners");
        await this.producerOwners.claim(producer.id, publisher.subject);
      }
      const verdict = judgePartitionSequence(producer, this.logs.partition(config.name, partition).producerState(producer.id));
      return this.appendClientBatch(config, batch, partition, acks, verdict === "retry");
    });
  }

  private batchPartition(config: StreamConfig, batch: ClientBatch, requested: number | undefined): number {
    if (requested !== undefined) {
      if (requested >= config.partitions) throw new StrataError("PARTITION_NOT_FOUND", `partition ${requested}: stream '${config.name}' has ${config.partitions}`);
      return requested;
    }
    let keyed: number | undefined;
    batch.records.forEach((r, i) => {
      if (!r.key) return;
      const p = partitionForKey(r.key, config.partitions);
      if (keyed !== undefined && p !== keyed) {
        throw new StrataError("BAD_BATCH", `record ${i}'s key hashes to partition ${p}, an earlier key's to ${keyed}: a batch goes to one partition, so name it with ?partition= or split the batch by key`);
      }
      keyed = p;
    });
    if (keyed !== undefined) return keyed;
    return this.unkeyedPartition(config, batch.producer);
  }

  /**
   * Where unkeyed records go. With a producer the choice is a function of (id, seq), so a retry
   * after a crash (or through another gateway) targets the same partition again and is
   * deduplicated there. Without one, round robin, over the partitions this gateway leads when it
   * leads any of the stream's in cluster mode (no forwarding hop).
   */
  private unkeyedPartition(config: StreamConfig, producer: ProducerRef | null): number {
    if (producer) return (producer.id + producer.seq) % config.partitions;
    const local = this.cluster?.router.localPartitions(config.name) ?? [];
    if (local.length > 0) return local[this.roundRobin++ % local.length]!;
    return this.roundRobin++ % config.partitions;
  }

  private async appendClientBatch(config: StreamConfig, batch: ClientBatch, partition: number, acks: Acks, retry: boolean): Promise<RecordPosition[]> {
    const { records, producer, bytes } = batch;
    const ticket = await this.hooks.admit?.(config, records, this.cluster ? partition : undefined);
    const timestamp = Date.now();
    const positions: RecordPosition[] = new Array(records.length);
    try {
      if (retry && producer) this.checkRetryTargets(config, [partition], producer);
      stampBatchTimestamp(bytes, timestamp);
      const log = this.logs.partition(config.name, partition);
      const { baseOffset } = await log.appendBatch(bytes, records.length, { firstTimestamp: timestamp, maxTimestamp: timestamp, producer }, acks);
      for (let k = 0; k < records.length; k++) positions[k] = { partition, offset: baseOffset + k };
      this.metrics.recordsIn.inc({ stream: config.name }, records.length);
      this.metrics.bytesIn.inc({ stream: config.name }, bytes.length - BATCH_HEADER_SIZE);
      this.hooks.anomalies?.appended(config.name, partition, records.length, bytes.length - BATCH_HEADER_SIZE, baseOffset);
    } finally {
      ticket?.settle(positions, timestamp);
    }
    await this.announceArtefactRefs(config, records, positions, timestamp);
    return positions;
  }

  /** The highest (epoch, seq) any partition of the stream has seen from this producer. */
  private producerPosition(config: StreamConfig, producerId: number): ProducerPosition | undefined {
    let best: ProducerPosition | undefined;
    for (let p = 0; p < config.partitions; p++) {
      const state = this.logs.partition(config.name, p).producerState(producerId);
      if (state && (!best || state.epoch > best.epoch || (state.epoch === best.epoch && state.lastSeq > best.lastSeq))) best = state;
    }
    return best;
  }

  private assignPartitions(config: StreamConfig, records: readonly RecordInput[], producer: ProducerRef | null): number[] {
    // Unkeyed records stick to one partition per request (unkeyedPartition).
    const sticky = this.unkeyedPartition(config, producer);
    return records.map((r, i) => {
      if (r.partition !== undefined) {
        if (r.partition >= config.partitions) {
          throw new StrataError("PARTITION_NOT_FOUND", `records[${i}].partition ${r.partition}: stream '${config.name}' has ${config.partitions}`);
        }
        return r.partition;
      }
      return r.key ? partitionForKey(r.key, config.partitions) : sticky;
    });
  }

  private async append(
    config: StreamConfig,
    records: readonly RecordInput[],
    producer: ProducerRef | null,
    acks: Acks,
    retry = false,
  ): Promise<RecordPosition[]> {
    const assigned = this.assignPartitions(config, records, producer);
    const ticket = await this.hooks.admit?.(config, records);
    const timestamp = Date.now();
    if (!ticket) return this.appendAdmitted(config, records, producer, acks, retry, assigned, timestamp);
    const positions: RecordPosition[] = new Array(records.length);
    try {
      const written = await this.appendAdmitted(config, records, producer, acks, retry, assigned, timestamp, positions);
      ticket.settle(written, timestamp);
      return written;
    } catch (e) {
      ticket.settle(positions, timestamp);
      throw e;
    }
  }

  private async appendAdmitted(
    config: StreamConfig,
    records: readonly RecordInput[],
    producer: ProducerRef | null,
    acks: Acks,
    retry: boolean,
    assigned: readonly number[],
    timestamp: number,
    /** Filled as each partition's append resolves (so a failure still tells which records were written). */
    positions: RecordPosition[] = new Array(records.length),
  ): Promise<RecordPosition[]> {
    // Encode everything first: a record over the limit rejects the whole request before any write.
    // Each partition's records are encoded back to back behind room for the batch header, so the
    // storage engine's encodeBatch writes the header in place instead of copying the records.
    const perPartition = new Map<number, number>();
    for (const p of assigned) perPartition.set(p, (perPartition.get(p) ?? 0) + 1);
    const groups = new Map<number, { indexes: number[]; builder: BatchBuilder }>();
    records.forEach((record, i) => {
      const encoded = encodeRecordShared({ timestamp, key: record.key, headers: record.headers, fields: record.fields }, timestamp);
      if (encoded.length > this.limits.maxRecordBytes) {
        throw new StrataError("RECORD_TOO_LARGE", `records[${i}] encodes to ${encoded.length} bytes; the limit is ${this.limits.maxRecordBytes}`);
      }
      const p = assigned[i]!;
      let group = groups.get(p);
      if (!group) groups.set(p, (group = { indexes: [], builder: new BatchBuilder(perPartition.get(p)!) }));
      group.indexes.push(i);
      group.builder.push(encoded);
    });
    if (retry && producer) this.checkRetryTargets(config, groups.keys(), producer);
    await Promise.all(
      [...groups].map(async ([partition, group]) => {
        const log = this.logs.partition(config.name, partition);
        const bytes = group.builder.bytes;
        const { baseOffset } = await log.append(group.builder.records(), { firstTimestamp: timestamp, maxTimestamp: timestamp, producer }, acks);
        group.indexes.forEach((recordIndex, k) => (positions[recordIndex] = { partition, offset: baseOffset + k }));
        this.metrics.recordsIn.inc({ stream: config.name }, group.indexes.length);
        this.metrics.bytesIn.inc({ stream: config.name }, bytes);
        this.hooks.anomalies?.appended(config.name, partition, group.indexes.length, bytes, baseOffset);
      }),
    );
    await this.announceArtefactRefs(config, records, positions, timestamp);
    return positions;
  }

  private async announceArtefactRefs(config: StreamConfig, records: readonly RecordInput[], positions: readonly RecordPosition[], timestamp: number): Promise<void> {
    const { onArtefactRefs, onArtefactRecord } = this.hooks;
    if (!onArtefactRefs && !onArtefactRecord) return;
    for (let i = 0; i < records.length; i++) {
      const fields = records[i]!.fields;
      if (fields === null) continue;
      const ids = collectArtefactRefs(fields);
      if (ids.length === 0) continue;
      const { partition, offset } = positions[i]!;
      await onArtefactRefs?.(config.name, partition, offset, ids);
      await onArtefactRecord?.({ stream: config.name, partition, offset, timestamp, fields });
    }
  }

  /**
   * A retried sequence may only complete a partially written request (a crash between the
   * partitions' fsyncs) or be answered from the partitions' memory of it. A partition whose own
   * sequence is already past this one without knowing it would write a duplicate: refuse.
   */
  private checkRetryTargets(config: StreamConfig, partitions: Iterable<number>, producer: ProducerRef): void {
    for (const p of partitions) {
      const log = this.logs.partition(config.name, p);
      const state = log.producerState(producer.id);
      if (state && state.epoch === producer.epoch && state.lastSeq > producer.seq && log.producerBatch(producer.id, producer.seq) === undefined) {
        throw new StrataError("SEQUENCE_GAP", `producer ${producer.id} seq ${producer.seq} is too old to be retried`);
      }
    }
  }

  /** Records from the offset (in cluster mode, of a partition led elsewhere: read from its leader, as readRaw). */
  async read(request: ReadRequest, via?: RequestVia): Promise<ReadResult> {
    const remote = await this.readFromLeader(request, via);
    const result = remote ? { ...remote, records: remote.records.map(decodeRawRecord) } : await this.select(request, DECODED);
    return request.fields ? { ...result, records: result.records.map((r) => project(r, request.fields!)) } : result;
  }

  /**
   * The same records as read() without a field projection, located in their stored batches
   * instead of decoded, for transports that forward their MessagePack as it is. A filter decodes
   * only the parts of each record its expression reads. In cluster mode a partition led elsewhere
   * is read from its leader (`via.authorization` sent on), when the service was given a reader.
   */
  async readRaw(request: Omit<ReadRequest, "fields">, via?: RequestVia): Promise<RawReadResult> {
    return (await this.readFromLeader(request, via)) ?? this.select(request, LOCATED);
  }

  /** Cluster mode: the read from the partition's leader when another gateway leads it; undefined when it is read here. */
  private async readFromLeader(request: Omit<ReadRequest, "fields">, via: RequestVia | undefined): Promise<RawReadResult | undefined> {
    const cluster = this.cluster;
    if (!cluster) return undefined;
    const config = await this.streams.lookup(request.stream);
    this.streams.requirePartition(config, request.partition);
    const route = this.routeOf(config, request.partition, via);
    if (route.kind === "local") return undefined;
    if (!cluster.readFromLeader) throw new StrataError("NOT_LEADER", `partition ${request.partition} of '${config.name}' is led by ${route.node} (${route.url}); read it there`);
    // A filter runs on the leader; the unprojected records come back (a projection is applied here).
    const { stream, partition, offset, maxRecords, maxBytes, waitMs, filter, signal } = request;
    return cluster.readFromLeader(route, { stream, partition, offset, maxRecords, maxBytes, waitMs, filter, signal }, await this.authorizationFor(via));
  }

  /** One read in either form: every record from the offset, or (with a filter) the matching ones of those examined. */
  private async select<R extends { readonly offset: number; readonly timestamp: number }>(request: Omit<ReadRequest, "fields">, form: RecordForm<R>) {
    const filter = this.compile(request.filter);
    const { config, log, offset, maxRecords, maxBytes } = await this.prepareRead(request);
    let records: R[];
    let nextOffset: number;
    if (filter) {
      const bounds = { maxRecords, maxBytes, maxEvaluations: this.filterLimits.maxFilterEvaluations, maxScanBytes: this.filterLimits.maxFilterScanBytes };
      ({ records, nextOffset } = await scanFiltered(log, offset, bounds, form.ofBatch, (r) => form.matches(filter, r)));
    } else {
      records = offset < log.endOffset ? await form.read(log, offset, { maxRecords, maxBytes }) : [];
      nextOffset = records.length > 0 ? records[records.length - 1]!.offset + 1 : offset;
    }
    this.metrics.recordsOut.inc({ stream: config.name }, records.length);
    if (request.group !== undefined) this.hooks.anomalies?.delivered(request.group, config.name, request.partition, offset, nextOffset);
    if (request.transport !== undefined) this.hooks.reads?.delivered(config.name, records);
    return { stream: config.name, records, nextOffset, endOffset: log.endOffset };
  }

  /** Compiled before the read waits or touches storage: a bad expression is BAD_FILTER at once. */
  private compile(expression: string | undefined): RecordFilter | undefined {
    return expression === undefined ? undefined : compileFilter(expression, this.filterLimits);
  }

  /** Validates a read, clamps its bounds, and long-polls at the end of the log when asked to. */
  private async prepareRead(request: Omit<ReadRequest, "fields">) {
    const config = this.streams.require(request.stream);
    this.streams.requirePartition(config, request.partition);
    const offset = request.offset;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new StrataError("INVALID_OFFSET", "offset must be a non-negative integer");
    const maxRecords = clamp(request.maxRecords ?? this.limits.defaultFetchRecords, 1, this.limits.maxFetchRecords, "max_records");
    const maxBytes = clamp(request.maxBytes ?? this.limits.defaultFetchBytes, 1, this.limits.maxFetchBytes, "max_bytes");
    const waitMs = clamp(request.waitMs ?? 0, 0, this.limits.maxWaitMs, "wait_ms");
    const log = this.logs.partition(config.name, request.partition);
    if (offset > log.endOffset || offset < log.startOffset) {
      throw new StrataError("OFFSET_OUT_OF_RANGE", `offset ${offset} is outside [${log.startOffset}, ${log.endOffset}]`);
    }
    if (offset === log.endOffset && waitMs > 0) {
      if (this.waiters >= this.limits.maxWaiters) throw new StrataError("UNAVAILABLE", "too many long-polls waiting");
      this.waiters++;
      const longPollEnded = request.transport === undefined ? undefined : this.hooks.reads?.longPollStarted(request.transport);
      try {
        await log.waitForData(offset, waitMs, request.signal);
      } finally {
        this.waiters--;
        longPollEnded?.();
      }
    }
    return { config, log, offset, maxRecords, maxBytes };
  }
}

/** How a read path sees stored records: decoded, or located in their batches' MessagePack. */
interface RecordForm<R> {
  /** The records of one stored batch. */
  readonly ofBatch: (bytes: Uint8Array, header: BatchHeader) => R[];
  /** An unfiltered read's records from `offset`, within the read's bounds. */
  readonly read: (log: PartitionLog, offset: number, bounds: SelectionBounds) => Promise<R[]>;
  readonly matches: (filter: RecordFilter, record: R) => boolean;
}

const DECODED: RecordForm<LogRecord> = {
  ofBatch: decodeBatchRecords,
  read: (log, offset, bounds) => log.read(offset, bounds),
  matches: (filter, record) => filter.matches(record),
};

const LOCATED: RecordForm<RawRecord> = {
  ofBatch: scanBatchRecords,
  // The same selection as PartitionLog.read, over records located instead of decoded.
  read: async (log, offset, bounds) => selectRecords(await log.readBatches(offset, bounds), offset, bounds, scanBatchRecords),
  matches: (filter, record) => filter.matchesRaw(record),
};

function clamp(value: number, min: number, max: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < min) throw new StrataError("BAD_REQUEST", `${name} must be an integer >= ${min}`);
  return Math.min(value, max);
}

function project(record: LogRecord, names: readonly string[]): LogRecord {
  const stored = record.fields;
  if (stored === null) return record; // a tombstone: nothing to project
  const fields: Record<string, Fields[string]> = {};
  for (const name of names) if (Object.hasOwn(stored, name)) fields[name] = stored[name]!;
  return { ...record, fields };
}
