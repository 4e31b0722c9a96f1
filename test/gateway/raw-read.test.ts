// The raw MessagePack read path (stored record bytes forwarded without decoding) must give a
// reader exactly the values the decode-and-re-encode path gives, and reject corrupt batches.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Decoder } from "@msgpack/msgpack";
import { decodeBatchRecords, encodeBatch, encodeRecord, readBatchHeader, scanBatchRecords } from "../../core/log/batch.ts";
import { StrataError } from "../../core/errors.ts";
import { extensionCodec, makeArtefactRef, makeTensor } from "../../core/log/extensions.ts";
import type { Fields, RecordInput } from "../../core/log/record.ts";
import { encodeMsgpack } from "../../gateway/http/negotiate.ts";
import { encodeRawReadResponse, msgpackReadResponse } from "../../gateway/streams/read-wire.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";

const decoder = new Decoder({ extensionCodec });
let live: LiveGateway;

function variedFields(i: number): Fields {
  const many: Record<string, number> = {};
  for (let k = 0; k < 20 + (i % 3); k++) many[`k${k}`] = k * (i + 1);
  return {
    i,
    neg: -i - 1,
    small: i % 200,
    big: 2 ** 40 + i,
    huge: Number.MAX_SAFE_INTEGER - i,
    f: i + 0.25,
    s: "x".repeat(i % 300),
    u: "é€😀".repeat(i % 7),
    b: new Uint8Array(i * 37).fill(i & 0xff),
    t: makeTensor("f32", [2, i % 5], new Uint8Array(8 * (i % 5)).fill(3)),
    a: makeArtefactRef("cd".repeat(32), 1000 + i, "application/octet-stream"),
    nested: { list: Array.from({ length: i % 40 }, (_, j) => (j % 2 ? `s${j}` : j)), yes: true, no: false, nil: null },
    many,
  };
}

beforeAll(async () => {
  live = await liveGateway();
  const { streams, log } = live.gateway.services;
  await streams.create({ name: "raw", partitions: 1 });
  for (let r = 0; r < 6; r++) {
    const records: RecordInput[] = Array.from({ length: 1 + r * 7 }, (_, j): RecordInput => {
      const i = r * 100 + j;
      return {
        key: i % 3 === 0 ? null : new Uint8Array([i & 0xff, 1, 2]),
        headers: i % 2 ? { source: `cam-${i}`, raw: new Uint8Array([i & 0xff]) } : {},
        fields: variedFields(i),
      };
    });
    await log.publish("raw", { records, producer: null });
  }
});

afterAll(async () => {
  await live.close();
});

test("raw reads decode to the same values as decoded reads, for every page size", async () => {
  const { log } = live.gateway.services;
  const end = (await log.read({ stream: "raw", partition: 0, offset: 0, maxRecords: 10_000 })).endOffset;
  expect(end).toBe(1 + 8 + 15 + 22 + 29 + 36);
  for (const [offset, maxRecords, maxBytes] of [[0, 10_000, 64 << 20], [0, 3, 1 << 20], [5, 17, 1 << 20], [30, 1000, 1], [40, 1000, 4000], [end - 1, 10, 10], [end, 10, 10]] as const) {
    const request = { stream: "raw", partition: 0, offset, maxRecords, maxBytes };
    const decoded = decoder.decode(encodeMsgpack(msgpackReadResponse(await log.read(request))));
    const raw = decoder.decode(encodeRawReadResponse(await log.readRaw(request)));
    expect(raw).toEqual(decoded);
  }
});

test("an unprojected MessagePack GET uses the raw path and matches the JSON answer's offsets", async () => {
  const url = `${live.url}/v1/streams/raw/partitions/0/records?offset=2&max_records=50`;
  const packed = decoder.decode(new Uint8Array(await (await fetch(url, { headers: { accept: "application/msgpack" } })).arrayBuffer())) as {
    records: { offset: number; fields: Fields }[];
    next_offset: number;
  };
  const json = (await (await fetch(url)).json()) as { records: { offset: number }[]; next_offset: number };
  expect(packed.records.map((r) => r.offset)).toEqual(json.records.map((r) => r.offset));
  expect(packed.next_offset).toBe(json.next_offset);
  expect(packed.records[0]!.fields).toEqual(variedFields(101)); // offset 0 is i = 0, offsets 1..8 are i = 100..107
});

test("scanBatchRecords rejects corrupt record bytes with CORRUPT_DATA", () => {
  const t0 = 1_780_000_000_000;
  const good = encodeBatch([encodeRecord({ timestamp: t0, key: null, headers: {}, fields: { a: "hello", b: [1, 2, 3] } }, t0)], { baseOffset: 0, firstTimestamp: t0, maxTimestamp: t0, producer: null });
  expect(scanBatchRecords(good, readBatchHeader(good)!)).toHaveLength(1);
  const header = readBatchHeader(good)!;
  for (let at = 64; at < good.length; at++) {
    for (const byte of [0xc1, 0xdf, 0xdd, 0xc6, 0x9f, 0x00]) {
      const bad = good.slice();
      bad[at] = byte;
      try {
        scanBatchRecords(bad, header); // header from the good batch: the CRC is not what is tested here
      } catch (e) {
        expect(e).toBeInstanceOf(StrataError);
        expect((e as StrataError).code).toBe("CORRUPT_DATA");
      }
    }
  }
  const short = { ...header, count: 2 };
  expect(() => scanBatchRecords(good, short)).toThrow(StrataError);
});

test("scanBatchRecords reads timestamp deltas of any integer width and sign, as decoding does", () => {
  const first = 1_780_000_000_000;
  for (const ts of [first, first + 5, first + 300, first + 70_000, first + 5_000_000_000, first - 1, first - 200, first - 40_000, first - 3_000_000_000]) {
    const batch = encodeBatch([encodeRecord({ timestamp: ts, key: null, headers: {}, fields: { n: 1 } }, first)], { baseOffset: 7, firstTimestamp: first, maxTimestamp: Math.max(first, ts), producer: null });
    const header = readBatchHeader(batch)!;
    expect(scanBatchRecords(batch, header).map((r) => r.timestamp)).toEqual(decodeBatchRecords(batch, header).map((r) => r.timestamp));
    expect(scanBatchRecords(batch, header)[0]!.timestamp).toBe(ts);
  }
});
