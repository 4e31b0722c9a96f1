// Versions of a stream's artefacts through the gateway's versions index (docs/versions.md):
// `STREAM@REF` sources (REF: latest, PARTITION:OFFSET, OFFSET or 8+ hex digits of the artefact
// id), one version by reference, and the newest-first listing. Answers are checked field by field
// (this module is in the browser bundle, which carries no schema library).
import { StrataError } from "../../core/errors.ts";
import { makeArtefactRef } from "../../core/log/extensions.ts";
import { assertStreamName } from "../../core/log/stream-name.ts";
import type { GatewayHttp } from "./gateway-http.ts";
import { isPlainFileName } from "./artefact-field.ts";
import type { ArtefactRef } from "../../core/log/record.ts";

const JSON_TYPE = "application/json";

/** A pull source: a stream and, after `@`, which of its versions (stream names never hold `@`). */
export interface VersionSource {
  readonly stream: string;
  readonly ref: string | undefined;
}

export function parseVersionSource(source: string): VersionSource {
  const at = source.indexOf("@");
  if (at < 0) return { stream: source, ref: undefined };
  const ref = source.slice(at + 1);
  if (ref.length === 0) throw new StrataError("BAD_REQUEST", `'${source}': name a version after @ (latest, PARTITION:OFFSET, OFFSET or 8+ hex digits of its id)`);
  return { stream: source.slice(0, at), ref };
}

/** One version as the gateway lists it (a LocatedArtefact of stream-api.ts, with the record's other fields). */
export interface ArtefactVersion {
  readonly ref: ArtefactRef;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly fileName?: string;
  readonly fields: Record<string, unknown> | null;
}

export interface VersionPage {
  readonly versions: ArtefactVersion[];
  /** The cursor of the next (older) page, null after the last. */
  readonly nextBefore: number | null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function versionOf(v: unknown): ArtefactVersion | null {
  if (!isObject(v) || !isCount(v.partition) || !isCount(v.offset) || !isCount(v.timestamp) || !isCount(v.size)) return null;
  if (typeof v.artefact !== "string" || typeof v.media_type !== "string") return null;
  if (!(v.file_name === null || typeof v.file_name === "string") || !(v.fields === null || isObject(v.fields))) return null;
  let ref;
  try {
    ref = makeArtefactRef(v.artefact, v.size, v.media_type);
  } catch {
    return null;
  }
  const fileName = typeof v.file_name === "string" && isPlainFileName(v.file_name) ? { fileName: v.file_name } : {};
  return { ref, partition: v.partition, offset: v.offset, timestamp: v.timestamp, fields: v.fields, ...fileName };
}

async function answer(http: GatewayHttp, path: string): Promise<unknown> {
  const what = `GET ${path}`;
  const response = await http.request(path, { method: "GET", accept: JSON_TYPE }, what);
  try {
    return await response.json();
  } catch (e) {
    throw new StrataError("CORRUPT_DATA", `${what}: malformed JSON answer: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function versionsPath(stream: string): string {
  return `/v1/streams/${encodeURIComponent(assertStreamName(stream))}/versions`;
}

/** The version `ref` names; NOT_FOUND when none, AMBIGUOUS_ID when an id prefix names two artefacts. */
export async function versionByRef(http: GatewayHttp, stream: string, ref: string): Promise<ArtefactVersion> {
  const path = `${versionsPath(stream)}/${encodeURIComponent(ref)}`;
  const version = versionOf(await answer(http, path));
  if (!version) throw new StrataError("CORRUPT_DATA", `GET ${path}: malformed version`);
  return version;
}

/** One page of the stream's versions, newest first. */
export async function listVersions(http: GatewayHttp, stream: string, page: { readonly limit?: number; readonly before?: number } = {}): Promise<VersionPage> {
  const query = new URLSearchParams();
  if (page.limit !== undefined) query.set("limit", String(page.limit));
  if (page.before !== undefined) query.set("before", String(page.before));
  const path = `${versionsPath(stream)}${query.size > 0 ? `?${query}` : ""}`;
  const body = await answer(http, path);
  const list = isObject(body) && Array.isArray(body.versions) ? body.versions.map(versionOf) : null;
  const nextBefore = isObject(body) && (body.next_before === null || isCount(body.next_before)) ? body.next_before : undefined;
  if (!list || list.some((v) => v === null) || nextBefore === undefined) throw new StrataError("CORRUPT_DATA", `GET ${path}: malformed versions answer`);
  return { versions: list.filter((v): v is ArtefactVersion => v !== null), nextBefore };
}
