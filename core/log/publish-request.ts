// A publish request, shared by every transport (HTTP JSON, HTTP MessagePack, QUIC). The decoded
// body is untrusted: publishBodySchema is the one source of its shape (and of the typed client's
// input type); toPublishRequest then applies the limits and turns wire values into log values.
import { z } from "zod";
import { StrataError } from "../errors.ts";
import { parseInput } from "../util/parse-input.ts";
import { fieldMapProblem, isFieldMap } from "./field-values.ts";
import { base64ToBytes, fromJsonFields } from "./json-value.ts";
import type { Fields, Headers, ProducerRef, RecordInput } from "./record.ts";

export interface PublishRequest {
  readonly records: RecordInput[];
  readonly producer: ProducerRef | null;
}

export interface PublishLimits {
  /** Most records in one request. */
  readonly maxBatchRecords: number;
  /** Most headers on one record. */
  readonly maxHeaders: number;
  /** Longest key, in bytes. */
  readonly maxKeyBytes: number;
}

/** The gateway's defaults, which clients (the edge node) size their requests by. */
export const DEFAULT_PUBLISH_LIMITS: PublishLimits = Object.freeze({ maxBatchRecords: 10_000, maxHeaders: 64, maxKeyBytes: 4096 });
/** The gateway's default bound on one encoded record (key, headers and fields). */
export const DEFAULT_MAX_RECORD_BYTES = 8 * 1024 * 1024;

export type BodyForm = "json" | "msgpack";

const utf8 = new TextEncoder();

/** Bytes on the wire: a UTF-8 string, `{"$base64": ...}` in JSON, bin in MessagePack. */
const wireBytes = z.union([z.string(), z.strictObject({ $base64: z.string() }), z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: "expected bytes" })]);

/**
 * The one field-value rule of every transport (QUIC's publish schema applies the same). Parsed JSON
 * passes it unless it holds a map that would be written as an extension value and is not a valid
 * one; its tags are then converted by fromJsonFields. Declared to clients as any map (JSON has no
 * bytes, so the output type would not describe what a JSON client sends).
 */
export const wireFields: z.ZodCustom<Fields, { readonly [field: string]: unknown }> = z.custom<Fields>(isFieldMap, { error: (issue) => fieldMapProblem(issue.input) });

const wireRecord = z.object({
  key: wireBytes.nullish(),
  partition: z.number().int().nonnegative().nullish(),
  headers: z.record(z.string(), wireBytes).nullish(),
  /** Null is a tombstone (a compacted stream removes the key; docs/compaction.md). */
  fields: wireFields.nullable(),
});

const wireProducer = z.object({
  id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  epoch: z.number().int().min(0).max(0xffff),
  seq: z.number().int().min(0).max(0xffff_ffff),
});

export const publishBodySchema = z.object({
  records: z.array(wireRecord).min(1, { message: "records must be a non-empty array" }),
  producer: wireProducer.nullish(),
});

/** A validated publish body, before limits and value conversion. */
export type PublishBody = z.output<typeof publishBodySchema>;

function bytesOf(v: string | Uint8Array | { $base64: string }, form: BodyForm, what: string): Uint8Array {
  if (typeof v === "string") return utf8.encode(v);
  if (form === "msgpack" && v instanceof Uint8Array) return v;
  if (form === "json" && !(v instanceof Uint8Array)) return base64ToBytes(v.$base64);
  throw new StrataError("BAD_REQUEST", `${what} must be a string or ${form === "json" ? '{"$base64": ...}' : "bytes"}`);
}

function toHeaders(v: PublishBody["records"][number]["headers"], form: BodyForm, limits: PublishLimits, index: number): Headers {
  if (v === undefined || v === null) return {};
  const names = Object.keys(v);
  if (names.length > limits.maxHeaders) throw new StrataError("BAD_REQUEST", `records[${index}] has more than ${limits.maxHeaders} headers`);
  const out: Record<string, string | Uint8Array> = {};
  for (const name of names) {
    const value = v[name]!;
    out[name] = typeof value === "string" ? value : bytesOf(value, form, `records[${index}].headers.${name}`);
  }
  return out;
}

/** MessagePack fields are log values as validated (the transport's decoder bounded their depth); JSON's tags become values. */
function toFields(fields: Fields | null, form: BodyForm): Fields | null {
  if (fields === null) return null;
  return form === "json" ? fromJsonFields(fields) : fields;
}

/** Applies the limits to a validated body and converts its wire values into log values. */
export function toPublishRequest(body: PublishBody, form: BodyForm, limits: PublishLimits): PublishRequest {
  if (body.records.length > limits.maxBatchRecords) {
    throw new StrataError("BATCH_TOO_LARGE", `a request holds at most ${limits.maxBatchRecords} records`);
  }
  const records = body.records.map((r, i): RecordInput => {
    const key = r.key === undefined || r.key === null ? null : bytesOf(r.key, form, `records[${i}].key`);
    if (key && key.length > limits.maxKeyBytes) throw new StrataError("RECORD_TOO_LARGE", `records[${i}].key is longer than ${limits.maxKeyBytes} bytes`);
    return {
      key,
      headers: toHeaders(r.headers, form, limits, i),
      fields: toFields(r.fields, form),
      ...(typeof r.partition === "number" ? { partition: r.partition } : {}),
    };
  });
  return { records, producer: body.producer ?? null };
}

/** Validates an undecided body (a JSON line the CLI read) and applies the limits. */
export function parsePublishRequest(body: unknown, form: BodyForm, limits: PublishLimits): PublishRequest {
  return toPublishRequest(parseInput(publishBodySchema, body, "publish request"), form, limits);
}
