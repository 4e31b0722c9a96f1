// Datasets (docs/datasets.md): immutable versions that pin a stream's offset ranges (optionally
// only the records a filter matches), the pins retention must respect, and the sample reads
// training readers use. Versions are in the metadata database and, live ones, in memory.
import { getLogger } from "@logtape/logtape";
import { StrataError, invariant } from "../../core/errors.ts";
import { KeyedLock } from "../../core/util/keyed-lock.ts";
import { WeightedLru } from "../../core/util/byte-lru.ts";
import type { MetadataDb } from "../db/database.ts";
import { compileFilter, type RecordFilter } from "../filters/record-filter.ts";
import type { FilterLimits } from "../filters/filter-limits.ts";
import type { LogStore } from "../log/log-store.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import type { LogService, RawReadResult, ReadRequest } from "../streams/log-service.ts";
import type { ServiceLimits } from "../streams/service-limits.ts";
import type { StreamService } from "../streams/stream-service.ts";
import type { DatasetLimits } from "./dataset-limits.ts";
import { DatasetPins } from "./dataset-pins.ts";
import { DatasetStore, versionKey, type StoredPartition } from "./dataset-store.ts";
import type { CreateDatasetRequest, DatasetDescription, DatasetPartition, DatasetSummary, DatasetVersion, VersionRef } from "./dataset-wire.ts";
import { packOffsets, unpackOffsets } from "./match-offsets.ts";
import { scanMatches, scanMatchesRemotely, type MatchScan } from "./match-scan.ts";
import { SampleReader, type SampleBatch } from "./sample-reader.ts";
import { SegmentFiles } from "./segment-files.ts";

export type { SampleBatch, Sample } from "./sample-reader.ts";
export { decodeSampleFields } from "./sample-reader.ts";

const log = getLogger(["strata", "datasets"]);

const MAX_SPAN_SAMPLES = 65_536;

export interface DatasetServiceDeps {
  readonly db: MetadataDb;
  readonly streams: StreamService;
  readonly logs: LogStore;
  readonly log: LogService;
  readonly limits: DatasetLimits;
  readonly serviceLimits: ServiceLimits;
  readonly filterLimits: FilterLimits;
  /** Where committed segments are (raw segment reads). */
  readonly objectStore: ObjectStore;
}


/** What a sample read asks for beyond its indexes. */
export interface SampleReadOptions {
  /** Bytes of samples' fields maps to return at most (default limits.defaultSampleBytes; at least one sample). */
  readonly maxBytes?: number;
  /** Cluster mode: the caller's Authorization, sent with reads of partitions other gateways lead. */
  readonly authorization?: string;
}

export class DatasetService {
  /** Committed segments' raw bytes, for readers that decode batches themselves. */
  readonly segments: SegmentFiles;
  readonly #store: DatasetStore;
  readonly #pins = new DatasetPins();
  /** Live versions by name, ascending. */
  readonly #live = new Map<string, DatasetVersion[]>();
  /** The highest number each name ever had (released versions' numbers are never reused). */
  readonly #last: Map<string, number>;
  readonly #creates = new KeyedLock();
  readonly #matches: WeightedLru<string, Float64Array>;
  readonly #reader: SampleReader;
  #liveCount = 0;
  /**
   * serving: this gateway creates and releases versions (single-gateway mode, or the cluster's
   * coordinator); following: another gateway does, the pins are reloaded from the database;
   * following-stale: the last reload failed, retention keeps everything.
   */
  #mode: "serving" | "following" | "following-stale" = "serving";
  /** Cluster mode: false the moment this gateway may no longer coordinate (before suspend() runs). */
  #mayWrite: () => boolean = () => true;

  private constructor(
    private readonly deps: DatasetServiceDeps,
    store: DatasetStore,
    last: Map<string, number>,
  ) {
    this.#store = store;
    this.#last = last;
    this.#matches = new WeightedLru(deps.limits.matchCacheBytes, (offsets) => offsets.byteLength);
    this.segments = new SegmentFiles(deps.db, deps.streams, deps.objectStore);
    this.#reader = new SampleReader({ readRaw: (request) => this.#readRaw(request) }, (v, p) => this.#matchOffsets(v, p), deps.serviceLimits.maxFetchRecords);
  }

  /**
   * Loads the live versions and their pins. `dormant` (cluster mode): loaded for retention's pins,
   * refreshed by refresh(), but creates and releases are refused until resume(), on the
   * coordinator only.
   */
  static async open(deps: DatasetServiceDeps & { readonly dormant?: boolean }): Promise<DatasetService> {
    const store = new DatasetStore(deps.db);
    const service = new DatasetService(deps, store, await store.lastVersions());
    for (const version of await store.loadLive()) service.#addLive(version);
    service.#mode = deps.dormant === true ? "following" : "serving";
    return service;
  }

  /**
   * The least start offset live versions pin in stream/partition (retention keeps everything from
   * it on), or undefined. 0 (keep everything) while a follower could not reload the pins.
   */
  pinnedFloor(stream: string, partition: number): number | undefined {
    if (this.#mode === "following-stale") return 0;
    return this.#pins.floor(stream, partition);
  }

  /** Cluster mode, this gateway became the coordinator: the versions as the database has them. */
  async resume(mayWrite: () => boolean = () => true): Promise<void> {
    this.#mayWrite = mayWrite;
    await this.#reload();
    this.#mode = "serving";
  }

  /** Another gateway coordinates: creates and releases get NOT_LEADER; the pins follow refresh(). */
  async suspend(): Promise<void> {
    this.#mode = "following";
  }

  /**
   * On a gateway that does not coordinate: reloads the live versions, so that retention on the
   * partitions this gateway leads respects pins the coordinator added. A failed reload keeps
   * everything (pinnedFloor 0) until one succeeds.
   */
  async refresh(): Promise<void> {
    if (this.#mode === "serving") return;
    try {
      await this.#reload();
      if (this.#mode === "following-stale") this.#mode = "following";
    } catch (e) {
      if (this.#mode === "following") this.#mode = "following-stale";
      throw e;
    }
  }

  async #reload(): Promise<void> {
    const last = await this.#store.lastVersions();
    const live = await this.#store.loadLive();
    for (const versions of [...this.#live.values()]) for (const version of [...versions]) this.#removeLive(version);
    this.#last.clear();
    for (const [name, number] of last) this.#last.set(name, number);
    for (const version of live) this.#addLive(version);
  }

  /**
   * Pins the stream's current ranges (filtered when asked) as the next version of `name`.
   * `authorization` (cluster mode): the caller's, sent with a filter's scan on other leaders.
   */
  create(request: CreateDatasetRequest, authorization?: string): Promise<DatasetVersion> {
    return this.#creates.run(request.name, () => {
      this.#requireServing();
      return this.#create(request, authorization);
    });
  }

  /** A raw read of a partition, from its leader when another gateway leads it (cluster mode), with the caller's Authorization. */
  #readRaw(request: Omit<ReadRequest, "fields">, authorization?: string): Promise<RawReadResult> {
    return this.deps.log.readRaw(request, authorization === undefined ? undefined : { authorization });
  }

  /** The sample reader of a caller: its reads of partitions led elsewhere carry the caller's Authorization. */
  #readerFor(authorization: string | undefined): SampleReader {
    if (authorization === undefined) return this.#reader;
    return new SampleReader({ readRaw: (request) => this.#readRaw(request, authorization) }, (v, p) => this.#matchOffsets(v, p), this.deps.serviceLimits.maxFetchRecords);
  }

  #requireServing(): void {
    if (this.#mode !== "serving" || !this.#mayWrite()) throw new StrataError("NOT_LEADER", "this gateway does not coordinate datasets (any more); retry");
  }

  list(): DatasetSummary[] {
    return [...this.#live.values()]
      .filter((versions) => versions.length > 0)
      .map((versions) => ({ name: versions[0]!.name, stream: versions[versions.length - 1]!.stream, versions: versions.length, latest: versions[versions.length - 1]!.version }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  describe(name: string): DatasetDescription {
    return { name, versions: [...this.#versionsOf(name)] };
  }

  /** A live version; NOT_FOUND for an unknown name, an unknown or released version. */
  version(name: string, ref: VersionRef): DatasetVersion {
    const versions = this.#versionsOf(name);
    const found = ref === "latest" ? versions[versions.length - 1] : versions.find((v) => v.version === ref);
    if (found === undefined) throw new StrataError("NOT_FOUND", `dataset ${name} has no live version ${ref}`);
    return found;
  }

  /** Releases a version: its row stays (its number is never reused), its partitions and pins go. */
  async release(name: string, ref: VersionRef): Promise<DatasetVersion> {
    return this.#creates.run(name, async () => {
      this.#requireServing();
      const version = this.version(name, ref);
      await this.#store.release(name, version.version, Date.now());
      this.#removeLive(version);
      log.info("released dataset {name} version {version}", { name, version: version.version });
      return version;
    });
  }

  /** Samples [start, start + count) of a version in index order (fewer when bounded by bytes). */
  readRange(version: DatasetVersion, start: number, count: number | undefined, options: SampleReadOptions = {}): Promise<SampleBatch> {
    const n = this.#count(count ?? this.deps.limits.maxSampleCount);
    return this.#readerFor(options.authorization).range(version, start, n, this.#maxBytes(options.maxBytes));
  }

  /** The samples at these global indexes, in this order (a prefix when bounded by bytes). */
  readAt(version: DatasetVersion, indexes: readonly number[], options: SampleReadOptions = {}): Promise<SampleBatch> {
    if (indexes.length === 0) throw new StrataError("BAD_REQUEST", "indexes is empty");
    this.#count(indexes.length);
    return this.#readerFor(options.authorization).at(version, indexes, this.#maxBytes(options.maxBytes));
  }

  #count(count: number): number {
    const max = this.deps.limits.maxSampleCount;
    if (!Number.isSafeInteger(count) || count < 1) throw new StrataError("BAD_REQUEST", "count must be a positive integer");
    if (count > max) throw new StrataError("BAD_REQUEST", `at most ${max} samples per read (limits datasets.maxSampleCount), asked for ${count}`);
    return count;
  }

  #maxBytes(asked: number | undefined): number {
    const bytes = asked ?? this.deps.limits.defaultSampleBytes;
    if (!Number.isSafeInteger(bytes) || bytes < 1) throw new StrataError("BAD_REQUEST", "max_bytes must be a positive integer");
    return Math.min(bytes, this.deps.limits.maxSampleBytes);
  }

  #versionsOf(name: string): DatasetVersion[] {
    const versions = this.#live.get(name);
    if (versions === undefined || versions.length === 0) throw new StrataError("NOT_FOUND", `no dataset ${name}`);
    return versions;
  }

  async #create(request: CreateDatasetRequest, authorization: string | undefined): Promise<DatasetVersion> {
    const { streams, logs, limits, serviceLimits } = this.deps;
    if (this.#liveCount >= limits.maxDatasetVersions) {
      throw new StrataError("BAD_REQUEST", `the gateway holds ${this.#liveCount} live dataset versions (limits datasets.maxDatasetVersions); release some first`);
    }
    const config = streams.require(request.stream);
    // A version pins offsets and reads samples by global index; compaction would remove samples under it (docs/compaction.md).
    if (config.cleanup === "compact") throw new StrataError("BAD_REQUEST", `stream '${config.name}' is compacted: datasets need a stream with cleanup "delete"`);
    const filter: { expression: string; compiled: RecordFilter } | undefined = request.filter === undefined ? undefined : { expression: request.filter, compiled: compileFilter(request.filter, this.deps.filterLimits) };
    const number = (this.#last.get(request.name) ?? 0) + 1;
    const holder = versionKey(request.name, number);
    const deadline = Date.now() + limits.maxCreateScanMs;
    const partitions: StoredPartition[] = [];
    let samples = 0;
    let bytes = 0;
    // Cluster mode: partitions led elsewhere are pinned at their offsets in the shared state and scanned on their leaders.
    const routing = this.deps.log.routing;
    const shared = routing === undefined ? undefined : await streams.info(config.name);
    try {
      for (let p = 0; p < config.partitions; p++) {
        const bounds = () => ({ maxRecords: serviceLimits.maxFetchRecords, maxBytes: serviceLimits.maxFetchBytes, maxMatches: limits.maxFilteredSamples - samples, deadline });
        let range: { start: number; end: number; bytes: number; scan: (filtering: { expression: string; compiled: RecordFilter }) => Promise<MatchScan> };
        if (routing !== undefined && shared !== undefined && routing.router.route(config.name, p).kind === "remote") {
          const { start_offset: start, end_offset: end, bytes: partitionBytes } = shared.partitions[p]!;
          this.#pins.pin(holder, config.name, p, start);
          range = { start, end, bytes: partitionBytes, scan: (f) => scanMatchesRemotely((r) => this.#readRaw(r, authorization), { stream: config.name, partition: p }, start, end, f.expression, bounds()) };
        } else {
          const partitionLog = logs.partition(config.name, p);
          // Pin first, then read the start: retention that ran before the pin moved the start
          // already; any run after it keeps everything from the pinned start on.
          this.#pins.pin(holder, config.name, p, partitionLog.startOffset);
          const start = partitionLog.startOffset;
          this.#pins.pin(holder, config.name, p, start);
          const end = partitionLog.endOffset;
          range = { start, end, bytes: partitionLog.bytes, scan: (f) => scanMatches(partitionLog, start, end, f.compiled, bounds()) };
        }
        const { start, end } = range;
        if (filter === undefined) {
          partitions.push({ partition: p, start, end, samples: end - start, first_index: samples, matches: null });
          samples += end - start;
          bytes += range.bytes;
        } else {
          const scan = await range.scan(filter);
          partitions.push({ partition: p, start, end, samples: scan.offsets.length, first_index: samples, matches: packOffsets(start, scan.offsets) });
          samples += scan.offsets.length;
          bytes += scan.bytes;
        }
      }
      const version: DatasetVersion = {
        name: request.name,
        version: number,
        stream: config.name,
        filter: request.filter ?? null,
        fields: request.fields ?? null,
        samples,
        bytes,
        span_samples: request.span_samples ?? defaultSpanSamples(samples, bytes, limits.targetSpanBytes),
        created_at: Date.now(),
        partitions: partitions.map(({ matches: _, ...p }) => p),
      };
      await this.#store.insert(version, partitions);
      this.#last.set(request.name, number);
      this.#addLive(version);
      log.info("created dataset {name} version {version} of {stream}: {samples} samples", { name: version.name, version: number, stream: version.stream, samples });
      return version;
    } catch (e) {
      for (let p = 0; p < config.partitions; p++) this.#pins.unpin(holder, config.name, p);
      throw e;
    }
  }

  #addLive(version: DatasetVersion): void {
    const versions = this.#live.get(version.name) ?? [];
    invariant(versions.every((v) => v.version < version.version), `dataset ${version.name} versions ascend (adding ${version.version})`);
    versions.push(version);
    this.#live.set(version.name, versions);
    this.#liveCount++;
    // Retention removes a prefix, so a pin at `start` keeps [start, ∞); a partition without samples needs none.
    const holder = versionKey(version.name, version.version);
    for (const p of version.partitions) {
      if (p.samples > 0) this.#pins.pin(holder, version.stream, p.partition, p.start);
      else this.#pins.unpin(holder, version.stream, p.partition);
    }
  }

  #removeLive(version: DatasetVersion): void {
    const versions = this.#live.get(version.name) ?? [];
    const at = versions.indexOf(version);
    invariant(at >= 0, `dataset ${version.name} version ${version.version} is live`);
    versions.splice(at, 1);
    if (versions.length === 0) this.#live.delete(version.name);
    this.#liveCount--;
    for (const p of version.partitions) this.#pins.unpin(versionKey(version.name, version.version), version.stream, p.partition);
    for (const p of version.partitions) this.#matches.delete(matchKey(version, p));
  }

  async #matchOffsets(version: DatasetVersion, part: DatasetPartition): Promise<Float64Array> {
    const key = matchKey(version, part);
    const cached = this.#matches.get(key);
    if (cached !== undefined) return cached;
    const packed = await this.#store.matches(version.name, version.version, part.partition);
    if (packed === null) throw new StrataError("NOT_FOUND", `dataset ${version.name} version ${version.version} was released`);
    const offsets = unpackOffsets(part.start, packed, part.samples);
    this.#matches.set(key, offsets);
    return offsets;
  }
}

/** round(targetSpanBytes / average sample bytes), clamped to [1, 65536]; 65536 for an empty version. */
export function defaultSpanSamples(samples: number, bytes: number, targetSpanBytes: number): number {
  if (samples === 0 || bytes === 0) return MAX_SPAN_SAMPLES;
  return Math.min(MAX_SPAN_SAMPLES, Math.max(1, Math.round(targetSpanBytes / (bytes / samples))));
}

function matchKey(version: DatasetVersion, part: DatasetPartition): string {
  return `${versionKey(version.name, version.version)}\u0000${part.partition}`;
}
