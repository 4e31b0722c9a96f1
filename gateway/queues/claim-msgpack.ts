// A claim's MessagePack answer written straight from the stored records: each record's key,
// headers and fields are copied as the MessagePack they are stored as (the read path's raw form),
// never decoded and encoded again. The answer decodes to exactly what encoding the decoded
// records would give: {"records": [{receipt, stream, partition, offset, timestamp, key, headers,
// fields, deliveries}]} (queue-wire.ts).
import type { RawRecord } from "../../core/log/batch.ts";
import { msgpackArrayHeaderSize, msgpackUintSize, writeMsgpackArrayHeader, writeMsgpackUint, msgpackFixstr } from "../../core/log/msgpack-writer.ts";
import { invariant } from "../../core/errors.ts";
import { uninitialized } from "../../core/util/buffers.ts";

/** One delivery as the claim hands it out, its record still in its stored batch. */
export interface RawClaimed {
  readonly receipt: string;
  readonly stream: string;
  readonly partition: number;
  readonly deliveries: number;
  readonly raw: RawRecord;
}

const utf8 = new TextEncoder();

const K_RECORDS = msgpackFixstr("records");
const K_RECEIPT = msgpackFixstr("receipt");
const K_STREAM = msgpackFixstr("stream");
const K_PARTITION = msgpackFixstr("partition");
const K_OFFSET = msgpackFixstr("offset");
const K_TIMESTAMP = msgpackFixstr("timestamp");
const K_KEY = msgpackFixstr("key");
const K_HEADERS = msgpackFixstr("headers");
const K_FIELDS = msgpackFixstr("fields");
const K_DELIVERIES = msgpackFixstr("deliveries");
const KEYS_LENGTH = [K_RECEIPT, K_STREAM, K_PARTITION, K_OFFSET, K_TIMESTAMP, K_KEY, K_HEADERS, K_FIELDS, K_DELIVERIES].reduce((n, k) => n + k.length, 0);
const MAP_OF_9 = 0x89;
const MAP_OF_1 = 0x81;

function strHeaderSize(n: number): number {
  return n < 32 ? 1 : n < 0x100 ? 2 : n < 0x1_0000 ? 3 : 5;
}

const rangeLength = (range: readonly [number, number]): number => range[1] - range[0];

export function encodeClaimedMsgpack(claimed: readonly RawClaimed[]): Uint8Array {
  const strings = claimed.map((c) => [utf8.encode(c.receipt), utf8.encode(c.stream)] as const);
  let length = 1 + K_RECORDS.length + msgpackArrayHeaderSize(claimed.length);
  claimed.forEach((c, i) => {
    const [receipt, stream] = strings[i]!;
    const r = c.raw;
    length += 1 + KEYS_LENGTH + strHeaderSize(receipt.length) + receipt.length + strHeaderSize(stream.length) + stream.length;
    length += msgpackUintSize(c.partition) + msgpackUintSize(r.offset) + msgpackUintSize(r.timestamp) + msgpackUintSize(c.deliveries);
    length += rangeLength(r.key) + rangeLength(r.headers) + rangeLength(r.fields);
  });
  // Every byte is written below.
  const out = uninitialized(length);
  const view = new DataView(out.buffer, out.byteOffset, out.length);
  let at = 0;
  const bytes = (b: Uint8Array): void => {
    out.set(b, at);
    at += b.length;
  };
  const str = (b: Uint8Array): void => {
    const n = b.length;
    if (n < 32) out[at++] = 0xa0 | n;
    else if (n < 0x100) {
      out[at++] = 0xd9;
      out[at++] = n;
    } else if (n < 0x1_0000) {
      out[at++] = 0xda;
      view.setUint16(at, n);
      at += 2;
    } else {
      out[at++] = 0xdb;
      view.setUint32(at, n);
      at += 4;
    }
    bytes(b);
  };
  const uint = (n: number): void => {
    at = writeMsgpackUint(out, view, at, n);
  };
  out[at++] = MAP_OF_1;
  bytes(K_RECORDS);
  at = writeMsgpackArrayHeader(out, view, at, claimed.length);
  claimed.forEach((c, i) => {
    const [receipt, stream] = strings[i]!;
    const r = c.raw;
    out[at++] = MAP_OF_9;
    bytes(K_RECEIPT);
    str(receipt);
    bytes(K_STREAM);
    str(stream);
    bytes(K_PARTITION);
    uint(c.partition);
    bytes(K_OFFSET);
    uint(r.offset);
    bytes(K_TIMESTAMP);
    uint(r.timestamp);
    bytes(K_KEY);
    bytes(r.batch.subarray(r.key[0], r.key[1]));
    bytes(K_HEADERS);
    bytes(r.batch.subarray(r.headers[0], r.headers[1]));
    bytes(K_FIELDS);
    bytes(r.batch.subarray(r.fields[0], r.fields[1]));
    bytes(K_DELIVERIES);
    uint(c.deliveries);
  });
  invariant(at === length, `claim answer: wrote ${at} of ${length} bytes`);
  return out;
}
