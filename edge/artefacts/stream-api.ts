// The log routes the artefact client needs: make sure a stream exists, publish the record that
// carries an ArtefactRef, and find the latest ArtefactRef on a stream (the newest record, by
// timestamp across partitions, whose field holds one; read back from the end of each partition).
//
// Stream auto-creation, one rule for `strata publish`, `strata push` and an edge node's sync: a
// write to a stream that does not exist creates it with AUTO_CREATED_PARTITIONS (1) partition
// and default retention (as Kafka's auto.create.topics.enable does); `strata streams create` beforehand
// chooses otherwise, and publish and push take --no-create to get STREAM_NOT_FOUND instead.
import { StrataError } from "../../core/errors.ts";
import { makeArtefactRef } from "../../core/log/extensions.ts";
import type { ArtefactRef } from "../../core/log/record.ts";
import { assertStreamName } from "../../core/log/stream-name.ts";
import type { GatewayHttp } from "./gateway-http.ts";
import { ARTEFACT_FIELD, FILE_NAME_FIELD, isPlainFileName } from "./artefact-field.ts";
import { parseVersionSource, versionByRef } from "./version-select.ts";
import { HARD_LIMITS } from "./limits.ts";

const JSON_TYPE = "application/json";

/** Partitions of a stream created because something was written to it (see the rule above). */
export const AUTO_CREATED_PARTITIONS = 1;

export interface PartitionInfo {
  readonly partition: number;
  readonly start_offset: number;
  readonly end_offset: number;
}

export interface RecordPosition {
  readonly partition: number;
  readonly offset: number;
}

export interface LocatedArtefact extends RecordPosition {
  readonly ref: ArtefactRef;
  readonly timestamp: number;
  /** The record's `file_name` field (what push stored), when it is a plain file name. */
  readonly fileName?: string;
}

function streamPath(stream: string): string {
  return `/v1/streams/${encodeURIComponent(stream)}`;
}

// The gateway's answers are checked field by field (this module is in the browser bundle, which
// carries no schema library): a wrong shape is CORRUPT_DATA, never a value taken on trust.

async function json(response: Response, what: string): Promise<unknown> {
  try {
    return await response.json();
  } catch (e) {
    throw new StrataError("CORRUPT_DATA", `${what}: malformed JSON answer: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function partitionInfo(v: unknown): PartitionInfo | null {
  if (!isObject(v) || !isCount(v.partition) || !isCount(v.start_offset) || !isCount(v.end_offset)) return null;
  return { partition: v.partition, start_offset: v.start_offset, end_offset: v.end_offset };
}

function recordPosition(v: unknown): RecordPosition | null {
  return isObject(v) && isCount(v.partition) && isCount(v.offset) ? { partition: v.partition, offset: v.offset } : null;
}

interface ReadRecordFields {
  readonly offset: number;
  readonly timestamp: number;
  /** Null for a tombstone (docs/compaction.md). */
  readonly fields: Record<string, unknown> | null;
}

function readRecord(v: unknown): ReadRecordFields | null {
  if (!isObject(v) || !isCount(v.offset) || !isCount(v.timestamp) || !(v.fields === null || isObject(v.fields))) return null;
  return { offset: v.offset, timestamp: v.timestamp, fields: v.fields };
}

/** Every element of `list` through `check`, or null when one does not pass. */
function every<T>(list: unknown, check: (v: unknown) => T | null): T[] | null {
  if (!Array.isArray(list)) return null;
  const out: T[] = [];
  for (const v of list) {
    const checked = check(v);
    if (checked === null) return null;
    out.push(checked);
  }
  return out;
}

/** The stream's partitions; STREAM_NOT_FOUND when it does not exist. */
export async function streamPartitions(http: GatewayHttp, stream: string): Promise<PartitionInfo[]> {
  assertStreamName(stream);
  const what = `GET ${streamPath(stream)}`;
  const info = await json(await http.request(streamPath(stream), { method: "GET", accept: JSON_TYPE }, what), what);
  const partitions = isObject(info) ? every(info.partitions, partitionInfo) : null;
  if (!partitions) throw new StrataError("CORRUPT_DATA", `${what}: answer has no partitions`);
  return partitions;
}

/** Creates the stream (AUTO_CREATED_PARTITIONS partitions, default retention) unless it exists; true when this call created it. */
export async function ensureStream(http: GatewayHttp, stream: string): Promise<boolean> {
  try {
    await streamPartitions(http, stream);
    return false;
  } catch (e) {
    if (!(e instanceof StrataError) || e.code !== "STREAM_NOT_FOUND") throw e;
  }
  const response = await http.request(
    "/v1/streams",
    { method: "POST", body: JSON.stringify({ name: stream, partitions: AUTO_CREATED_PARTITIONS }), contentType: JSON_TYPE, accept: JSON_TYPE, passStatuses: [409] },
    "POST /v1/streams",
  );
  await response.arrayBuffer();
  return response.status !== 409; // 409 STREAM_EXISTS: created meanwhile by someone else
}

/**
 * Publishes one record whose field `field` is `ref`, plus `fields` (JSON values in the tagged
 * form of core/log/json-value.ts). Not retried: a retry could publish the record twice.
 */
export async function publishArtefactRecord(
  http: GatewayHttp,
  stream: string,
  field: string,
  ref: ArtefactRef,
  fields: Readonly<Record<string, unknown>>,
): Promise<RecordPosition> {
  if (Object.hasOwn(fields, field)) throw new StrataError("BAD_REQUEST", `fields must not contain '${field}': it carries the artefact`);
  const record = { fields: { ...fields, [field]: { $artefact: { manifest: ref.manifest, size: ref.size, mediaType: ref.mediaType } } } };
  const what = `POST ${streamPath(stream)}/records`;
  const response = await http.request(
    `${streamPath(stream)}/records`,
    { method: "POST", body: JSON.stringify({ records: [record] }), contentType: JSON_TYPE, accept: JSON_TYPE, idempotent: false },
    what,
  );
  const body = await json(response, what);
  const position = isObject(body) && Array.isArray(body.records) ? recordPosition(body.records[0]) : null;
  if (!position) throw new StrataError("CORRUPT_DATA", `${what}: answer has no record position`);
  return position;
}

function refOf(value: unknown): ArtefactRef | null {
  const a = isObject(value) ? value.$artefact : undefined;
  if (!isObject(a) || typeof a.manifest !== "string" || typeof a.size !== "number" || typeof a.mediaType !== "string") return null;
  try {
    return makeArtefactRef(a.manifest, a.size, a.mediaType);
  } catch {
    return null;
  }
}

/** The newest record of one partition holding an ArtefactRef in `field`, scanning back a bounded number of records. */
async function latestInPartition(http: GatewayHttp, stream: string, field: string, p: PartitionInfo): Promise<LocatedArtefact | null> {
  let end = p.end_offset;
  const floor = Math.max(p.start_offset, p.end_offset - HARD_LIMITS.maxRecordsScannedPerPartition);
  while (end > floor) {
    const from = Math.max(floor, end - HARD_LIMITS.scanPageRecords);
    const page: ReadRecordFields[] = [];
    let offset = from;
    while (offset < end) {
      const query = new URLSearchParams({ offset: String(offset), max_records: String(end - offset), fields: `${field},${FILE_NAME_FIELD}` });
      const path = `${streamPath(stream)}/partitions/${p.partition}/records?${query}`;
      const what = `GET ${path}`;
      const body = await json(await http.request(path, { method: "GET", accept: JSON_TYPE }, what), what);
      const records = isObject(body) ? every(body.records, readRecord) : null;
      const next = isObject(body) && isCount(body.next_offset) ? body.next_offset : null;
      if (!records || next === null) throw new StrataError("CORRUPT_DATA", `${what}: malformed read answer`);
      // Retention may have removed the range: stop scanning this partition.
      if (next <= offset) {
        if (records.length === 0) break;
        throw new StrataError("CORRUPT_DATA", `${what}: malformed read answer`);
      }
      page.push(...records.filter((r) => r.offset < end));
      offset = next;
    }
    for (let i = page.length - 1; i >= 0; i--) {
      const r = page[i]!;
      // A tombstone (null fields) carries no artefact: the search goes on to older records.
      const ref = refOf(r.fields?.[field]);
      const fileName = r.fields?.[FILE_NAME_FIELD];
      if (ref) return { ref, partition: p.partition, offset: r.offset, timestamp: r.timestamp, ...(typeof fileName === "string" && isPlainFileName(fileName) ? { fileName } : {}) };
    }
    end = from;
  }
  return null;
}

/**
 * The latest ArtefactRef on `stream`, or with `STREAM@REF` the version REF names
 * (version-select.ts). The latest `artefact` field comes from the gateway's versions index; a
 * gateway without one, records older than it and other fields are found by scanning back:
 * newest by timestamp (then partition) across partitions.
 */
export async function latestArtefact(http: GatewayHttp, source: string, field: string): Promise<LocatedArtefact> {
  const { stream, ref } = parseVersionSource(source);
  if (ref !== undefined) {
    if (field !== ARTEFACT_FIELD) throw new StrataError("BAD_REQUEST", `'${source}': versions are the records of field '${ARTEFACT_FIELD}', not '${field}'`);
    return versionByRef(http, stream, ref);
  }
  if (field === ARTEFACT_FIELD) {
    try {
      return await versionByRef(http, stream, "latest");
    } catch (e) {
      if (!(e instanceof StrataError) || e.code !== "NOT_FOUND") throw e;
    }
  }
  const partitions = await streamPartitions(http, stream);
  const found = await Promise.all(partitions.filter((p) => p.end_offset > p.start_offset).map((p) => latestInPartition(http, stream, field, p)));
  let best: LocatedArtefact | null = null;
  for (const f of found) {
    if (f && (!best || f.timestamp > best.timestamp || (f.timestamp === best.timestamp && f.partition > best.partition))) best = f;
  }
  if (!best) {
    throw new StrataError(
      "NOT_FOUND",
      `stream ${stream} has no record with an artefact in field '${field}' among the last ${HARD_LIMITS.maxRecordsScannedPerPartition} records of each partition`,
    );
  }
  return best;
}
