// Records on the HTTP wire. MessagePack keeps bytes, tensors and artefact refs native; JSON uses
// the tagged forms of core/log/json-value.ts.
import { bytesToBase64, toJsonValue } from "../../core/log/json-value.ts";
import type { LogRecord } from "../../core/log/record.ts";
import { msgpackArrayHeaderSize, msgpackUintSize, writeMsgpackArrayHeader, writeMsgpackUint, msgpackFixstr } from "../../core/log/msgpack-writer.ts";
import type { RawReadResult, ReadResult } from "./log-service.ts";
import { uninitialized } from "../../core/util/buffers.ts";

export type JsonBytes = { $base64: string };

export interface JsonRecord {
  offset: number;
  timestamp: number;
  key: JsonBytes | null;
  headers: Record<string, string | JsonBytes>;
  /** Null for a tombstone (docs/compaction.md). */
  fields: Record<string, unknown> | null;
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
    fields: r.fields === null ? null : (toJsonValue(r.fields) as Record<string, unknown>),
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
// `{records: [{offset, timestamp, key, headers, fields}], next_offset, end_offset}` with key,
// headers and fields forwarded as stored (they are MessagePack already): no decode or re-encode.
// A decoder sees the same values as in msgpackReadResponse's encoding. The answer is a list of
// parts: the framing and small values copied into one exactly sized buffer, and every stored
// value of at least VIEW_MIN_BYTES as a view of its batch, so a transport that sends parts (the
// HTTP route) never copies the record bytes into a fresh response buffer.

/** Stored values at least this long are referenced, not copied (a part costs the transport a write). */
export const VIEW_MIN_BYTES = 4096;

/** A MessagePack body as consecutive byte parts. */
export interface ResponseParts {
  readonly parts: readonly Uint8Array[];
  /** Sum of the parts' lengths. */
  readonly length: number;
}

const K_RECORDS = msgpackFixstr("records");
const K_OFFSET = msgpackFixstr("offset");
const K_TIMESTAMP = msgpackFixstr("timestamp");
const K_KEY = msgpackFixstr("key");
const K_HEADERS = msgpackFixstr("headers");
const K_FIELDS = msgpackFixstr("fields");
const K_NEXT = msgpackFixstr("next_offset");
const K_END = msgpackFixstr("end_offset");

const RECORD_FIXED = 1 + K_OFFSET.length + K_TIMESTAMP.length + K_KEY.length + K_HEADERS.length + K_FIELDS.length;

type Range = readonly [number, number];

/** Bytes of `range` that are copied rather than referenced. */
export const copiedLength = (range: Range): number => (range[1] - range[0] >= VIEW_MIN_BYTES ? 0 : range[1] - range[0]);

/** Writes copied bytes into one buffer and cuts it into parts around the referenced views. */
export class PartsWriter {
  readonly parts: Uint8Array[] = [];
  private readonly view: DataView;
  private at = 0;
  private runStart = 0;

  constructor(private readonly copied: Uint8Array) {
    this.view = new DataView(copied.buffer, copied.byteOffset, copied.length);
  }

  byte(b: number): void {
    this.copied[this.at++] = b;
  }
  bytes(b: Uint8Array): void {
    this.copied.set(b, this.at);
    this.at += b.length;
  }
  uint(n: number): void {
    this.at = writeMsgpackUint(this.copied, this.view, this.at, n);
  }
  arrayHeader(n: number): void {
    this.at = writeMsgpackArrayHeader(this.copied, this.view, this.at, n);
  }
  range(src: Uint8Array, range: Range): void {
    if (copiedLength(range) > 0) {
      this.copied.set(src.subarray(range[0], range[1]), this.at);
      this.at += range[1] - range[0];
    } else if (range[1] > range[0]) {
      this.flushRun();
      this.parts.push(src.subarray(range[0], range[1]));
    }
  }
  finish(): Uint8Array[] {
    this.flushRun();
    if (this.at !== this.copied.length) throw new Error(`read response: wrote ${this.at} of ${this.copied.length} copied bytes`);
    return this.parts;
  }
  private flushRun(): void {
    if (this.at > this.runStart) this.parts.push(this.copied.subarray(this.runStart, this.at));
    this.runStart = this.at;
  }
}

export function rawReadResponseParts(result: RawReadResult): ResponseParts {
  const { records } = result;
  let copied = 1 + K_RECORDS.length + msgpackArrayHeaderSize(records.length) + K_NEXT.length + msgpackUintSize(result.nextOffset) + K_END.length + msgpackUintSize(result.endOffset);
  let viewed = 0;
  for (const r of records) {
    const stored = copiedLength(r.key) + copiedLength(r.headers) + copiedLength(r.fields);
    copied += RECORD_FIXED + msgpackUintSize(r.offset) + msgpackUintSize(r.timestamp) + stored;
    viewed += r.key[1] - r.key[0] + (r.headers[1] - r.headers[0]) + (r.fields[1] - r.fields[0]) - stored;
  }
  // Fully overwritten below, so the zero fill would be wasted.
  const w = new PartsWriter(uninitialized(copied));
  w.byte(0x83); // map of 3
  w.bytes(K_RECORDS);
  w.arrayHeader(records.length);
  for (const r of records) {
    w.byte(0x85); // map of 5
    w.bytes(K_OFFSET);
    w.uint(r.offset);
    w.bytes(K_TIMESTAMP);
    w.uint(r.timestamp);
    w.bytes(K_KEY);
    w.range(r.batch, r.key);
    w.bytes(K_HEADERS);
    w.range(r.batch, r.headers);
    w.bytes(K_FIELDS);
    w.range(r.batch, r.fields);
  }
  w.bytes(K_NEXT);
  w.uint(result.nextOffset);
  w.bytes(K_END);
  w.uint(result.endOffset);
  return { parts: w.finish(), length: copied + viewed };
}

/** The parts joined into one buffer (for transports that frame whole byte arrays: QUIC). */
export function joinParts({ parts, length }: ResponseParts): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = uninitialized(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  if (at !== length) throw new Error(`read response: joined ${at} of ${length} bytes`);
  return out;
}

/** The whole MessagePack read response in one exactly sized buffer. */
export function encodeRawReadResponse(result: RawReadResult): Uint8Array {
  return joinParts(rawReadResponseParts(result));
}
