// What an application publishes through the edge node, validated and encoded once, at publish
// time, into the MessagePack records the gateway's publish request carries. A row of the outbox
// holds them back to back, so requests are built by concatenation, without decoding.
import { Encoder } from "@msgpack/msgpack";
import { StrataError } from "../core/errors.ts";
import { extensionCodec } from "../core/log/extensions.ts";
import type { Fields, Headers } from "../core/log/record.ts";
import type { EdgeLimits } from "./limits.ts";

export interface EdgeRecord {
  /** Keyed records go to hash(key) mod partitions; unkeyed ones stick to one partition per request. */
  readonly key?: string | Uint8Array | null;
  readonly partition?: number;
  readonly headers?: Headers;
  readonly fields: Fields;
}

/** `count` records encoded back to back. */
export interface EncodedRecords {
  readonly count: number;
  readonly bytes: Uint8Array;
}

const encoder = new Encoder({ extensionCodec, ignoreUndefined: true, useBigInt64: true, initialBufferSize: 64 * 1024 });
const utf8 = new TextEncoder();

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function bad(message: string): StrataError {
  return new StrataError("BAD_REQUEST", message);
}

function checkRecord(r: EdgeRecord, i: number, limits: EdgeLimits): Uint8Array | null {
  if (!isPlainObject(r)) throw bad(`records[${i}] must be an object`);
  if (!isPlainObject(r.fields)) throw bad(`records[${i}].fields must be an object`);
  if (r.partition !== undefined && (!Number.isSafeInteger(r.partition) || r.partition < 0)) throw bad(`records[${i}].partition must be a non-negative integer`);
  let key: Uint8Array | null = null;
  if (typeof r.key === "string") key = utf8.encode(r.key);
  else if (r.key instanceof Uint8Array) key = r.key;
  else if (r.key !== undefined && r.key !== null) throw bad(`records[${i}].key must be a string, bytes or null`);
  if (key && key.length > limits.maxKeyBytes) throw new StrataError("RECORD_TOO_LARGE", `records[${i}].key is longer than ${limits.maxKeyBytes} bytes`);
  if (r.headers !== undefined) {
    if (!isPlainObject(r.headers)) throw bad(`records[${i}].headers must be an object`);
    const names = Object.keys(r.headers);
    if (names.length > limits.maxHeaders) throw bad(`records[${i}] has more than ${limits.maxHeaders} headers`);
    for (const name of names) {
      const v = r.headers[name];
      if (typeof v !== "string" && !(v instanceof Uint8Array)) throw bad(`records[${i}].headers.${name} must be a string or bytes`);
    }
  }
  return key;
}

/** Validates `records` and encodes them; throws BAD_REQUEST / RECORD_TOO_LARGE / BATCH_TOO_LARGE before anything is stored. */
export function encodeRecords(records: readonly EdgeRecord[], limits: EdgeLimits): EncodedRecords {
  if (!Array.isArray(records) || records.length === 0) throw bad("records must be a non-empty array");
  if (records.length > limits.maxRecordsPerPublish) throw new StrataError("BATCH_TOO_LARGE", `a publish holds at most ${limits.maxRecordsPerPublish} records`);
  const parts: Uint8Array[] = [];
  let total = 0;
  records.forEach((r, i) => {
    const key = checkRecord(r, i, limits);
    let encoded: Uint8Array;
    try {
      encoded = encoder.encode({ key, ...(r.partition !== undefined ? { partition: r.partition } : {}), headers: r.headers ?? {}, fields: r.fields });
    } catch (e) {
      throw bad(`records[${i}] cannot be encoded: ${(e as Error).message}`);
    }
    if (encoded.length > limits.maxRecordBytes) throw new StrataError("RECORD_TOO_LARGE", `records[${i}] encodes to ${encoded.length} bytes; the limit is ${limits.maxRecordBytes}`);
    total += encoded.length;
    if (total > limits.maxPublishBytes) throw new StrataError("BATCH_TOO_LARGE", `a publish encodes to more than ${limits.maxPublishBytes} bytes; split it`);
    parts.push(encoded);
  });
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return { count: records.length, bytes };
}
