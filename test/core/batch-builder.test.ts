// BatchBuilder lays records out behind room for the batch header; encodeBatch then writes the
// header in place. The bytes must equal the copying path's, and the room is used once only.
import { expect, test } from "bun:test";
import { BatchBuilder, decodeBatchRecords, encodeBatch, encodeRecord, encodeRecordShared, readBatchHeader } from "../../core/log/batch.ts";
import type { Fields } from "../../core/log/record.ts";

const t0 = 1_780_000_000_000;
const meta = { baseOffset: 500, firstTimestamp: t0, maxTimestamp: t0, producer: { id: 3, epoch: 1, seq: 9 } };

function record(i: number): { timestamp: number; key: Uint8Array | null; headers: Record<string, string>; fields: Fields } {
  // Sizes vary a lot, so the builder's first guess (first size x count) is short and it grows.
  return { timestamp: t0, key: i % 2 ? new Uint8Array([i]) : null, headers: i % 3 ? { h: `v${i}` } : {}, fields: { i, blob: new Uint8Array(i * i * 13).fill(i) } };
}

test("builder batches equal copied batches and decode to the same records", () => {
  for (const count of [1, 2, 7, 40]) {
    const builder = new BatchBuilder(count);
    const plain: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      builder.push(encodeRecordShared(record(i), t0));
      plain.push(encodeRecord(record(i), t0));
    }
    expect(builder.bytes).toBe(plain.reduce((n, r) => n + r.length, 0));
    const views = builder.records();
    const inPlace = encodeBatch(views, meta);
    const copied = encodeBatch(plain, meta);
    expect(inPlace.buffer).toBe(views[0]!.buffer); // header written in front of the records
    expect(inPlace).toEqual(copied);
    const header = readBatchHeader(inPlace)!;
    expect(decodeBatchRecords(inPlace, header).map((r) => r.fields)).toEqual(plain.map((_, i) => record(i).fields));
  }
});

test("the header room is used once: a second encodeBatch of the same views copies", () => {
  const builder = new BatchBuilder(3);
  for (let i = 0; i < 3; i++) builder.push(encodeRecordShared(record(i), t0));
  const views = builder.records();
  const first = encodeBatch(views, meta);
  const second = encodeBatch(views, { ...meta, baseOffset: 900 });
  expect(second.buffer).not.toBe(first.buffer);
  expect(readBatchHeader(first)!.baseOffset).toBe(500);
  expect(readBatchHeader(second)!.baseOffset).toBe(900);
  expect(() => builder.push(encodeRecordShared(record(4), t0))).toThrow();
});

test("records that are not a builder's prefix are copied", () => {
  const builder = new BatchBuilder(4);
  for (let i = 0; i < 4; i++) builder.push(encodeRecordShared(record(i), t0));
  const views = builder.records();
  const tail = encodeBatch(views.slice(1), meta);
  expect(tail.buffer).not.toBe(views[0]!.buffer);
  expect(decodeBatchRecords(tail, readBatchHeader(tail)!).map((r) => r.fields)).toEqual([1, 2, 3].map((i) => record(i).fields));
});

test("one large record among many small ones does not make the builder reserve room for many large ones", () => {
  const builder = new BatchBuilder(10_000);
  builder.push(encodeRecordShared({ timestamp: t0, key: null, headers: {}, fields: { big: new Uint8Array(1 << 20) } }, t0));
  for (let i = 0; i < 9_999; i++) builder.push(encodeRecordShared({ timestamp: t0, key: null, headers: {}, fields: { i } }, t0));
  const views = builder.records();
  expect(views).toHaveLength(10_000);
  expect(views[0]!.buffer.byteLength).toBeLessThan(64 << 20);
  const batch = encodeBatch(views, meta);
  expect(readBatchHeader(batch)!.count).toBe(10_000);
});
