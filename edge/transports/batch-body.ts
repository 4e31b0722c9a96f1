// The outbox's encoded records (MessagePack maps {key, partition?, headers, fields}, edge/records.ts)
// as a client-built batch (core/log/client-batch.ts): each map's values are spliced as they are
// into the stored record array [0, key, headers, fields], so nothing is decoded or re-encoded.
// Only records that go to one partition make a batch (one named partition, or no partition and
// at most one distinct key); others are answered with undefined and go as MessagePack.
import { encodeBatch, msgpackValueEnd } from "../../core/log/batch.ts";
import { equalBytes } from "../../core/util/equal-bytes.ts";
import type { ProducerRef } from "../../core/log/record.ts";
import type { EncodedRecords } from "../records.ts";

const NIL = 0xc0;
const EMPTY_MAP = 0x80;
const utf8 = new TextDecoder();

interface Spliced {
  readonly record: Uint8Array;
  readonly key: Uint8Array | null;
  readonly partition: number | undefined;
}

/** One outbox record's map at `pos` as a stored record array, and where it ends; undefined when it is not the expected shape. */
function splice(bytes: Uint8Array, view: DataView, pos: number): { spliced: Spliced; end: number } | undefined {
  const head = bytes[pos]!;
  if (head < 0x81 || head > 0x8f) return undefined;
  let at = pos + 1;
  const ranges: Record<string, [number, number]> = {};
  for (let i = 0; i < (head & 0x0f); i++) {
    const nameEnd = msgpackValueEnd(bytes, view, at, bytes.length);
    const t = bytes[at]!;
    if (t < 0xa0 || t > 0xbf) return undefined; // entry names are short strings
    const name = utf8.decode(bytes.subarray(at + 1, nameEnd));
    const valueEnd = msgpackValueEnd(bytes, view, nameEnd, bytes.length);
    ranges[name] = [nameEnd, valueEnd];
    at = valueEnd;
  }
  const { key, headers, fields, partition } = ranges;
  if (!fields) return undefined;
  let partitionValue: number | undefined;
  if (partition) {
    const p = bytes[partition[0]]!;
    if (partition[1] - partition[0] !== 1 || p > 0x7f) return undefined; // a positive fixint; larger ones go as MessagePack
    partitionValue = p;
  }
  const keyBytes = key ? bytes.subarray(key[0], key[1]) : Uint8Array.of(NIL);
  const headerBytes = headers ? bytes.subarray(headers[0], headers[1]) : Uint8Array.of(EMPTY_MAP);
  const fieldBytes = bytes.subarray(fields[0], fields[1]);
  const record = new Uint8Array(2 + keyBytes.length + headerBytes.length + fieldBytes.length);
  record[0] = 0x94;
  record[1] = 0x00;
  record.set(keyBytes, 2);
  record.set(headerBytes, 2 + keyBytes.length);
  record.set(fieldBytes, 2 + keyBytes.length + headerBytes.length);
  return { spliced: { record, key: keyBytes[0] === NIL ? null : keyBytes, partition: partitionValue }, end: at };
}

/** The records as one client-built batch and the partition it names, or undefined when they do not make one. */
export function clientBatchOf(records: EncodedRecords, producer: ProducerRef): { batch: Uint8Array; partition: number | undefined } | undefined {
  const { bytes } = records;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Spliced[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const one = splice(bytes, view, pos);
    if (!one) return undefined;
    out.push(one.spliced);
    pos = one.end;
  }
  if (out.length !== records.count || out.length === 0) return undefined;
  const partition = out[0]!.partition;
  if (out.some((r) => r.partition !== partition)) return undefined;
  if (partition === undefined) {
    const key = out.find((r) => r.key !== null)?.key;
    if (key && out.some((r) => r.key !== null && !equalBytes(r.key, key))) return undefined;
  }
  const batch = encodeBatch(out.map((r) => r.record), { baseOffset: 0, firstTimestamp: 0, maxTimestamp: 0, producer });
  return { batch, partition };
}
