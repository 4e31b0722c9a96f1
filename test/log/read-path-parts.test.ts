// MessagePack raw read responses built from parts (framing copied, large stored values as views
// of their batches) must be byte-identical to the single-buffer encoding they replace, for every
// mix of record sizes, reads starting inside a batch and spanning several, and empty reads; over
// HTTP the streamed body must be those bytes, and projected reads keep their own encoding.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { encodeBatch, encodeRecord, readBatchHeader, scanBatchRecords, type RawRecord } from "../../core/log/batch.ts";
import type { Fields, RecordInput } from "../../core/log/record.ts";
import { writeMsgpackArrayHeader, writeMsgpackUint } from "../../core/log/msgpack-writer.ts";
import { encodeMsgpack, MSGPACK } from "../../gateway/http/negotiate.ts";
import type { RawReadResult } from "../../gateway/streams/log-service.ts";
import { encodeRawReadResponse, joinParts, msgpackReadResponse, rawReadResponseParts, VIEW_MIN_BYTES } from "../../gateway/streams/read-wire.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";

const ascii = (s: string): number[] => [0xa0 | s.length, ...Array.from(s, (c) => c.charCodeAt(0))];

/** The encoding before parts, written out independently: one buffer, every value copied in order. */
function singleBufferEncoding(result: RawReadResult): Uint8Array {
  const bytes: number[] = [0x83, ...ascii("records")];
  const scratch = new Uint8Array(9);
  const view = new DataView(scratch.buffer);
  const uint = (n: number) => bytes.push(...scratch.subarray(0, writeMsgpackUint(scratch, view, 0, n)));
  bytes.push(...scratch.subarray(0, writeMsgpackArrayHeader(scratch, view, 0, result.records.length)));
  const out: Uint8Array[] = [];
  const flush = () => {
    out.push(Uint8Array.from(bytes));
    bytes.length = 0;
  };
  for (const r of result.records) {
    bytes.push(0x85, ...ascii("offset"));
    uint(r.offset);
    bytes.push(...ascii("timestamp"));
    uint(r.timestamp);
    for (const [name, range] of [["key", r.key], ["headers", r.headers], ["fields", r.fields]] as const) {
      bytes.push(...ascii(name));
      flush();
      out.push(r.batch.slice(range[0], range[1]));
    }
  }
  bytes.push(...ascii("next_offset"));
  uint(result.nextOffset);
  bytes.push(...ascii("end_offset"));
  uint(result.endOffset);
  flush();
  return Buffer.concat(out);
}

/** Record i: sizes cycle through tiny, just under and over VIEW_MIN_BYTES, and 300 KiB. */
function fieldsOf(i: number): Fields {
  const sizes = [3, VIEW_MIN_BYTES - 40, VIEW_MIN_BYTES + 7, 300 * 1024, 0, 90];
  return { i, blob: new Uint8Array(sizes[i % sizes.length]!).fill(i & 0xff), s: "é".repeat(i % 5) };
}

function inputOf(i: number): RecordInput {
  return {
    key: i % 3 === 0 ? null : new Uint8Array(i % 4 === 0 ? VIEW_MIN_BYTES + i : 3).fill(7),
    headers: i % 2 ? { source: `cam-${i}`, big: "h".repeat(i % 4 === 1 ? VIEW_MIN_BYTES : 1) } : {},
    fields: fieldsOf(i),
  };
}

/** Batches of 1..6 records at offsets 0.., and every record located in them. */
function storedRecords(): RawRecord[] {
  const out: RawRecord[] = [];
  const t0 = 1_780_000_000_000;
  let offset = 0;
  for (let b = 0; b < 8; b++) {
    const n = 1 + (b % 6);
    const encoded = Array.from({ length: n }, (_, j) => encodeRecord({ ...inputOf(offset + j), timestamp: t0 + offset + j }, t0));
    const batch = encodeBatch(encoded, { baseOffset: offset, firstTimestamp: t0, maxTimestamp: t0 + offset + n, producer: null });
    out.push(...scanBatchRecords(batch, readBatchHeader(batch)!));
    offset += n;
  }
  return out;
}

test("parts join to the single-buffer encoding for every slice of a mix of records", () => {
  const all = storedRecords();
  let viewed = 0;
  for (let from = 0; from <= all.length; from++) {
    for (const count of [0, 1, 2, 5, all.length]) {
      const records = all.slice(from, from + count);
      const result: RawReadResult = { stream: "s", records, nextOffset: records.at(-1) ? records.at(-1)!.offset + 1 : from, endOffset: all.length };
      const expected = singleBufferEncoding(result);
      const body = rawReadResponseParts(result);
      expect(body.length).toBe(expected.length);
      expect(Buffer.from(joinParts(body)).equals(expected)).toBe(true);
      expect(Buffer.from(encodeRawReadResponse(result)).equals(expected)).toBe(true);
      // Stored values of VIEW_MIN_BYTES or more are views of their batch, never copies.
      const batches = new Set(records.map((r) => r.batch.buffer));
      for (const p of body.parts) if (batches.has(p.buffer)) viewed++;
      const bigValues = records.flatMap((r) => [r.key, r.headers, r.fields]).filter(([s, e]) => e - s >= VIEW_MIN_BYTES).length;
      expect(body.parts.filter((p) => batches.has(p.buffer)).length).toBe(bigValues);
    }
  }
  expect(viewed).toBeGreaterThan(0);
});

let live: LiveGateway;
const url = (query: string) => `${live.url}/v1/streams/parts/partitions/0/records?${query}`;
const getBytes = async (query: string, accept = MSGPACK) => {
  const response = await fetch(url(query), { headers: { accept } });
  expect(response.status).toBe(200);
  return { response, bytes: new Uint8Array(await response.arrayBuffer()) };
};

beforeAll(async () => {
  live = await liveGateway();
  const { streams, log } = live.gateway.services;
  await streams.create({ name: "parts", partitions: 1 });
  let i = 0;
  for (let b = 0; b < 6; b++) {
    const records = Array.from({ length: 1 + b }, () => inputOf(i++));
    await log.publish("parts", { records, producer: null });
  }
});

afterAll(async () => {
  await live.close();
});

test("HTTP raw reads send exactly the joined bytes, streamed when large, with a length when small", async () => {
  const { log } = live.gateway.services;
  // Offsets 0..20 are held; 21 is the end (an empty read).
  for (const [offset, maxBytes] of [[0, 64 << 20], [2, 1 << 20], [4, 1], [5, 5000], [20, 1 << 20], [21, 1 << 20]] as const) {
    const request = { stream: "parts", partition: 0, offset, maxRecords: 1000, maxBytes };
    const expected = encodeRawReadResponse(await log.readRaw(request));
    const { response, bytes } = await getBytes(`offset=${offset}&max_bytes=${maxBytes}&max_records=1000`);
    expect(response.headers.get("content-type")).toBe(MSGPACK);
    expect(Buffer.from(bytes).equals(Buffer.from(expected))).toBe(true);
    if (expected.length < 256 * 1024) expect(response.headers.get("content-length")).toBe(String(expected.length));
  }
});

test("filtered raw reads are the same parts; projected reads keep the decoded encoding", async () => {
  const { log } = live.gateway.services;
  const filter = "fields.i % 2 == 1";
  const filtered = encodeRawReadResponse(await log.readRaw({ stream: "parts", partition: 0, offset: 0, maxRecords: 1000, maxBytes: 64 << 20, filter }));
  const got = await getBytes(`offset=0&max_bytes=${64 << 20}&max_records=1000&filter=${encodeURIComponent(filter)}`);
  expect(Buffer.from(got.bytes).equals(Buffer.from(filtered))).toBe(true);
  const projected = encodeMsgpack(msgpackReadResponse(await log.read({ stream: "parts", partition: 0, offset: 1, maxRecords: 1000, fields: ["i"] })));
  const gotProjected = await getBytes("offset=1&max_records=1000&fields=i");
  expect(Buffer.from(gotProjected.bytes).equals(Buffer.from(projected))).toBe(true);
});
