// Records on the HTTP wire. MessagePack keeps bytes, tensors and artefact refs native; JSON uses
// the tagged forms of core/log/json-value.ts.
import { bytesToBase64, toJsonValue } from "../../core/log/json-value.ts";
import type { LogRecord } from "../../core/log/record.ts";
import { msgpackArrayHeaderSize, msgpackUintSize, writeMsgpackArrayHeader, writeMsgpackUint } from "../../core/log/msgpack-writer.ts";
import type { RawReadResult, ReadResult } from "./log-service.ts";

export type JsonBytes = { $base64: string };

export interface JsonRecord {
  offset: number;
  timestamp: number;
  key: JsonBytes | null;
  headers: Record<string, string | JsonBytes>;
  fields: Record<string, unknown>;
}

export interface JsonReadResponse {
  records: JsonRecord[];
  next_offset: number;
  end_offset: number;
}

function jsonRecord(r: LogRecord): JsonRecord {
  const headers: Record<string, string | JsonBytes> = {};
  for (const [name, value] of Object.entries(r.headers)) headers[name] = typeof value === "string" ? value : { $base64: bytesToBase64(value) };
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key ? { $base64: bytesToBase64(r.key) } : null,
    headers,
    fields: toJsonValue(r.fields) as Record<string, unknown>,
  };
}

export function jsonReadResponse(result: ReadResult): JsonReadResponse {
  return { records: result.records.map(jsonRecord), next_offset: result.nextOffset, end_offset: result.endOffset };
}

export function msgpackReadResponse(result: ReadResult): unknown {
  return {
    records: result.records.map((r) => ({ offset: r.offset, timestamp: r.timestamp, key: r.key, headers: r.headers, fields: r.fields })),
    next_offset: result.nextOffset,
    end_offset: result.endOffset,
  };
}

// ---- MessagePack read responses straight from stored batches ----
// `{records: [{offset, timestamp, key, headers, fields}], next_offset, end_offset}` written in one
// exactly sized buffer: key, headers and fields are copied as stored (they are MessagePack
// already), so a read costs one copy of the record bytes and no decode or re-encode. A decoder
// sees the same values as in msgpackReadResponse's encoding.

/** A fixstr map key (ASCII, under 32 bytes). */
const fixstr = (s: string): Uint8Array => Uint8Array.from([0xa0 | s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))]);
const K_RECORDS = fixstr("records");
const K_OFFSET = fixstr("offset");
const K_TIMESTAMP = fixstr("timestamp");
const K_KEY = fixstr("key");
const K_HEADERS = fixstr("headers");
const K_FIELDS = fixstr("fields");
const K_NEXT = fixstr("next_offset");
const K_END = fixstr("end_offset");

function put(out: Uint8Array, at: number, bytes: Uint8Array): number {
  out.set(bytes, at);
  return at + bytes.length;
}

function putRange(out: Uint8Array, at: number, src: Uint8Array, range: readonly [number, number]): number {
  const n = range[1] - range[0];
  out.set(src.subarray(range[0], range[1]), at);
  return at + n;
}

const RECORD_FIXED = 1 + K_OFFSET.length + K_TIMESTAMP.length + K_KEY.length + K_HEADERS.length + K_FIELDS.length;

export function encodeRawReadResponse(result: RawReadResult): Uint8Array {
  const { records } = result;
  let size = 1 + K_RECORDS.length + msgpackArrayHeaderSize(records.length) + K_NEXT.length + msgpackUintSize(result.nextOffset) + K_END.length + msgpackUintSize(result.endOffset);
  for (const r of records) {
    size += RECORD_FIXED + msgpackUintSize(r.offset) + msgpackUintSize(r.timestamp) + (r.key[1] - r.key[0]) + (r.headers[1] - r.headers[0]) + (r.fields[1] - r.fields[0]);
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = 0x83; // map of 3
  let at = put(out, 1, K_RECORDS);
  at = writeMsgpackArrayHeader(out, view, at, records.length);
  for (const r of records) {
    out[at++] = 0x85; // map of 5
    at = writeMsgpackUint(out, view, put(out, at, K_OFFSET), r.offset);
    at = writeMsgpackUint(out, view, put(out, at, K_TIMESTAMP), r.timestamp);
    at = putRange(out, put(out, at, K_KEY), r.batch, r.key);
    at = putRange(out, put(out, at, K_HEADERS), r.batch, r.headers);
    at = putRange(out, put(out, at, K_FIELDS), r.batch, r.fields);
  }
  at = writeMsgpackUint(out, view, put(out, at, K_NEXT), result.nextOffset);
  at = writeMsgpackUint(out, view, put(out, at, K_END), result.endOffset);
  if (at !== size) throw new Error(`read response: wrote ${at} of ${size} bytes`);
  return out;
}
