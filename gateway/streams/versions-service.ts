// Artefact versions of a stream (docs/versions.md): the listing, newest first, and the choice of
// one version by a reference: `latest`, `PARTITION:OFFSET`, `OFFSET` (one-partition streams) or a
// prefix of at least 8 hex digits of the artefact id (AMBIGUOUS_ID when it names two artefacts).
import { StrataError } from "../../core/errors.ts";
import type { LogStore } from "../log/log-store.ts";
import type { StreamService } from "./stream-service.ts";
import type { VersionLimits } from "./versions-limits.ts";
import { VersionsIndex, type RetainedRange, type VersionRow } from "./versions-index.ts";
import type { AppendedArtefactRecord } from "./log-service.ts";
import type { VersionJson, VersionListJson } from "./versions-wire.ts";

/** Fewest hex digits of an artefact id a reference may give. */
export const MIN_ID_PREFIX = 8;

const OFFSET_REF = /^(?:(\d{1,15}):)?(\d{1,15})$/;
const PREFIX_REF = /^[0-9a-f]+$/;

function toJson(row: VersionRow): VersionJson {
  return {
    partition: row.partition,
    offset: row.offset,
    artefact: row.artefact,
    size: row.size,
    media_type: row.mediaType,
    file_name: row.fileName,
    timestamp: row.timestamp,
    fields: row.fields === null ? null : (JSON.parse(row.fields) as Record<string, unknown>),
  };
}

export class VersionsService {
  readonly #index: VersionsIndex;

  constructor(
    private readonly streams: StreamService,
    private readonly logs: LogStore,
    private readonly limits: VersionLimits,
    index: VersionsIndex,
  ) {
    this.#index = index;
  }

  /** The append path's hook (LogHooks.onArtefactRecord): indexes the record as a version. */
  readonly onArtefactRecord = (record: AppendedArtefactRecord): Promise<void> =>
    this.#index.add(record.stream, record.partition, record.offset, record.timestamp, record.fields);

  /** What retention kept of the stream; in cluster mode the start of a partition led elsewhere comes from the shared state (StreamService.info). */
  async #retained(stream: string): Promise<RetainedRange> {
    const config = await this.streams.lookup(stream);
    const info = await this.streams.info(stream);
    return {
      createdAt: config.createdAt,
      startOffset: (partition) => info.partitions[partition]?.start_offset,
    };
  }

  async list(stream: string, limit: number | undefined, before: number | undefined): Promise<VersionListJson> {
    const pageSize = limit ?? this.limits.defaultPageVersions;
    if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > this.limits.maxPageVersions) {
      throw new StrataError("BAD_REQUEST", `limit ${pageSize}: must be 1..${this.limits.maxPageVersions}`);
    }
    if (before !== undefined && (!Number.isSafeInteger(before) || before < 1)) throw new StrataError("BAD_REQUEST", `before ${before}: must be a cursor from next_before`);
    const rows = await this.#index.list(stream, await this.#retained(stream), pageSize, before);
    return { stream, versions: rows.map(toJson), next_before: rows.length === pageSize ? rows[rows.length - 1]!.seq : null };
  }

  /** The version a reference names; NOT_FOUND when none, AMBIGUOUS_ID (409) naming candidates. */
  async resolve(stream: string, ref: string): Promise<VersionJson> {
    const retained = await this.#retained(stream);
    const found = await this.#find(stream, retained, ref);
    if (!found) throw new StrataError("NOT_FOUND", `stream '${stream}' has no artefact version '${ref}'`);
    return toJson(found);
  }

  async #find(stream: string, retained: RetainedRange, ref: string): Promise<VersionRow | undefined> {
    if (ref === "latest") return (await this.#index.list(stream, retained, 1))[0];
    const offsetRef = OFFSET_REF.exec(ref);
    if (offsetRef) {
      const config = this.streams.require(stream);
      if (offsetRef[1] === undefined && config.partitions !== 1) {
        throw new StrataError("BAD_REQUEST", `'${ref}': stream '${stream}' has ${config.partitions} partitions; name the version as PARTITION:OFFSET`);
      }
      // A bare number of 8+ digits that is also a hex prefix is read as an offset first.
      const byOffset = await this.#index.at(stream, retained, Number(offsetRef[1] ?? 0), Number(offsetRef[2]));
      if (byOffset || offsetRef[1] !== undefined || ref.length < MIN_ID_PREFIX) return byOffset;
    }
    const prefix = ref.toLowerCase();
    if (!PREFIX_REF.test(prefix) || prefix.length < MIN_ID_PREFIX || prefix.length > 64) {
      throw new StrataError("BAD_REQUEST", `'${ref}': a version is latest, PARTITION:OFFSET, OFFSET or at least ${MIN_ID_PREFIX} hex digits of its artefact id`);
    }
    return this.#byPrefix(stream, retained, prefix);
  }

  async #byPrefix(stream: string, retained: RetainedRange, prefix: string): Promise<VersionRow | undefined> {
    const newest = new Map<string, VersionRow>();
    let before: number | undefined;
    // Newest first, so the first row of each artefact is its latest version.
    for (;;) {
      const rows = await this.#index.list(stream, retained, this.limits.maxPageVersions, before, prefix);
      for (const row of rows) if (!newest.has(row.artefact)) newest.set(row.artefact, row);
      if (newest.size > this.limits.maxPrefixCandidates || rows.length < this.limits.maxPageVersions) break;
      before = rows[rows.length - 1]!.seq;
    }
    if (newest.size > 1) {
      const candidates = [...newest.values()].slice(0, this.limits.maxPrefixCandidates).map((r) => `${r.artefact} (${r.partition}:${r.offset})`);
      throw new StrataError("AMBIGUOUS_ID", `'${prefix}' matches ${newest.size > this.limits.maxPrefixCandidates ? "more than " + this.limits.maxPrefixCandidates : newest.size} artefacts of stream '${stream}': ${candidates.join(", ")}; give more hex digits`);
    }
    return newest.values().next().value;
  }
}
