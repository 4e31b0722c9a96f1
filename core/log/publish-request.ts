// Validation of a publish request, shared by every transport (HTTP JSON, HTTP MessagePack, QUIC).
// The decoded body is untrusted: every field is checked before anything is written.
import { StrataError } from "../errors.ts";
import { base64ToBytes, fromJsonValue } from "./json-value.ts";
import type { Fields, Headers, ProducerRef, RecordInput, Value } from "./record.ts";

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

export type BodyForm = "json" | "msgpack";

const textEncoder = new TextEncoder();

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function bad(message: string): StrataError {
  return new StrataError("BAD_REQUEST", message);
}

function bytesOf(v: unknown, form: BodyForm, what: string): Uint8Array {
  if (typeof v === "string") return textEncoder.encode(v);
  if (form === "msgpack" && v instanceof Uint8Array) return v;
  if (form === "json" && isObject(v) && typeof v.$base64 === "string" && Object.keys(v).length === 1) return base64ToBytes(v.$base64);
  throw bad(`${what} must be a string or ${form === "json" ? '{"$base64": ...}' : "bytes"}`);
}

function parseHeaders(v: unknown, form: BodyForm, limits: PublishLimits, index: number): Headers {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw bad(`records[${index}].headers must be an object`);
  const names = Object.keys(v);
  if (names.length > limits.maxHeaders) throw bad(`records[${index}] has more than ${limits.maxHeaders} headers`);
  const out: Record<string, string | Uint8Array> = {};
  for (const name of names) {
    const value = v[name];
    out[name] = typeof value === "string" ? value : bytesOf(value, form, `records[${index}].headers.${name}`);
  }
  return out;
}

function parseFields(v: unknown, form: BodyForm, index: number): Fields {
  if (!isObject(v)) throw bad(`records[${index}].fields must be an object`);
  if (form === "json") return fromJsonValue(v) as Fields;
  return v as { [field: string]: Value };
}

function parseProducer(v: unknown): ProducerRef | null {
  if (v === undefined || v === null) return null;
  if (!isObject(v)) throw bad("producer must be an object {id, epoch, seq}");
  const { id, epoch, seq } = v;
  if (!Number.isSafeInteger(id) || (id as number) < 0) throw bad("producer.id must be a non-negative integer below 2^53");
  if (!Number.isInteger(epoch) || (epoch as number) < 0 || (epoch as number) > 0xffff) throw bad("producer.epoch must be an integer in [0, 65535]");
  if (!Number.isInteger(seq) || (seq as number) < 0 || (seq as number) > 0xffffffff) throw bad("producer.seq must be an integer in [0, 2^32)");
  return { id: id as number, epoch: epoch as number, seq: seq as number };
}

export function parsePublishRequest(body: unknown, form: BodyForm, limits: PublishLimits): PublishRequest {
  if (!isObject(body)) throw bad("body must be an object {records: [...]}");
  const { records } = body;
  if (!Array.isArray(records) || records.length === 0) throw bad("records must be a non-empty array");
  if (records.length > limits.maxBatchRecords) {
    throw new StrataError("BATCH_TOO_LARGE", `a request holds at most ${limits.maxBatchRecords} records`);
  }
  const parsed: RecordInput[] = records.map((r: unknown, i: number) => {
    if (!isObject(r)) throw bad(`records[${i}] must be an object`);
    const key = r.key === undefined || r.key === null ? null : bytesOf(r.key, form, `records[${i}].key`);
    if (key && key.length > limits.maxKeyBytes) throw new StrataError("RECORD_TOO_LARGE", `records[${i}].key is longer than ${limits.maxKeyBytes} bytes`);
    if (r.partition !== undefined && r.partition !== null && (!Number.isInteger(r.partition) || (r.partition as number) < 0)) {
      throw bad(`records[${i}].partition must be a non-negative integer`);
    }
    const record: RecordInput = {
      key,
      headers: parseHeaders(r.headers, form, limits, i),
      fields: parseFields(r.fields, form, i),
      ...(typeof r.partition === "number" ? { partition: r.partition } : {}),
    };
    return record;
  });
  return { records: parsed, producer: parseProducer(body.producer) };
}
