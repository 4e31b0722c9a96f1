import { expect, test } from "bun:test";
import { BATCH_HEADER_SIZE, decodeBatchRecords, encodeBatch, encodeRecord, readBatchHeader, setBaseOffset } from "../../core/log/batch.ts";
import { StrataError } from "../../core/errors.ts";
import { makeArtefactRef, makeTensor } from "../../core/log/extensions.ts";
import type { Fields, Headers } from "../../core/log/record.ts";

const t0 = 1_780_000_000_000;

function sampleBatch(producer = { id: 7, epoch: 2, seq: 41 }) {
  const fields: Fields = {
    caption: "a cat",
    image: new Uint8Array([1, 2, 3, 255]),
    depth: makeTensor("f16", [2, 2], new Uint8Array(8).fill(9)),
    model: makeArtefactRef("ab".repeat(32), 123456789, "application/vnd.safetensors"),
    meta: { n: 3, list: [1, "two", null, true], big: 2 ** 40 },
  };
  const records: { timestamp: number; key: Uint8Array | null; headers: Headers; fields: Fields }[] = [
    { timestamp: t0, key: new Uint8Array([9, 9]), headers: { source: "cam-1", raw: new Uint8Array([0]) }, fields },
    { timestamp: t0 + 5, key: null, headers: {}, fields: { n: 1 } },
  ];
  return encodeBatch(records.map((r) => encodeRecord(r, t0)), { baseOffset: 1000, firstTimestamp: t0, maxTimestamp: t0 + 5, producer });
}

test("batch round trip keeps every field, extension and header", () => {
  const batch = sampleBatch();
  const header = readBatchHeader(batch)!;
  expect(header).toMatchObject({ length: batch.length, baseOffset: 1000, count: 2, firstTimestamp: t0, maxTimestamp: t0 + 5, producer: { id: 7, epoch: 2, seq: 41 } });
  const [a, b] = decodeBatchRecords(batch, header);
  expect(a!.offset).toBe(1000);
  expect(a!.timestamp).toBe(t0);
  expect(a!.key).toEqual(new Uint8Array([9, 9]));
  expect(a!.headers).toEqual({ source: "cam-1", raw: new Uint8Array([0]) });
  expect(a!.fields?.caption).toBe("a cat");
  expect(a!.fields?.image).toEqual(new Uint8Array([1, 2, 3, 255]));
  expect(a!.fields?.depth).toEqual({ kind: "tensor", dtype: "f16", shape: [2, 2], data: new Uint8Array(8).fill(9) });
  expect(a!.fields?.model).toEqual({ kind: "artefact", manifest: "ab".repeat(32), size: 123456789, mediaType: "application/vnd.safetensors" });
  expect(a!.fields?.meta).toEqual({ n: 3, list: [1, "two", null, true], big: 2 ** 40 });
  expect(b).toMatchObject({ offset: 1001, timestamp: t0 + 5, key: null, fields: { n: 1 } });
});

test("a batch without a producer says so", () => {
  const batch = encodeBatch([encodeRecord({ timestamp: t0, key: null, headers: {}, fields: {} }, t0)], { baseOffset: 0, firstTimestamp: t0, maxTimestamp: t0, producer: null });
  expect(readBatchHeader(batch)!.producer).toBeNull();
});

test("the base offset can be assigned without breaking the CRC", () => {
  const batch = sampleBatch();
  setBaseOffset(batch, 2 ** 50 + 3);
  const header = readBatchHeader(batch)!;
  expect(header.baseOffset).toBe(2 ** 50 + 3);
  expect(decodeBatchRecords(batch, header)[1]!.offset).toBe(2 ** 50 + 4);
});

test("a torn batch reads as incomplete, never as data", () => {
  const batch = sampleBatch();
  for (const cut of [0, 10, BATCH_HEADER_SIZE - 1, BATCH_HEADER_SIZE, batch.length - 1]) expect(readBatchHeader(batch.subarray(0, cut))).toBeNull();
});

test("every flipped byte past the base offset is caught", () => {
  const batch = sampleBatch();
  for (let i = 0; i < batch.length; i++) {
    if (i >= 8 && i < 16) continue; // the base offset is outside the CRC by design
    const corrupt = batch.slice();
    corrupt[i]! ^= 0x40;
    let failed = false;
    try {
      const header = readBatchHeader(corrupt);
      if (header === null) failed = true; // a corrupted length can make it look torn
      else decodeBatchRecords(corrupt, header);
    } catch (e) {
      expect(e).toBeInstanceOf(StrataError);
      expect((e as StrataError).code).toBe("CORRUPT_DATA");
      failed = true;
    }
    expect(failed).toBe(true);
  }
});

test("a batch whose length lies is rejected by the length bound", () => {
  const batch = sampleBatch();
  new DataView(batch.buffer).setUint32(4, 0xfffffff0, true);
  expect(() => readBatchHeader(batch, { maxLength: 1 << 20 })).toThrow(StrataError);
});
