// A claim's MessagePack answer, written from the stored bytes, is byte for byte the encoding of
// the decoded records (keys null and binary, headers, tensors, long strings, receipts and stream
// names past the short string forms, large offsets), so clients see what they saw before.
import { describe, expect, test } from "bun:test";
import { encodeBatch, encodeRecord, readBatchHeader, scanBatchRecords, type BatchRecordInput, type RawRecord } from "../../core/log/batch.ts";
import { makeTensor } from "../../core/log/extensions.ts";
import { encodeMsgpack } from "../../gateway/http/negotiate.ts";
import { encodeClaimedMsgpack, type RawClaimed } from "../../gateway/queues/claim-msgpack.ts";
import { decodeRawRecord } from "../../gateway/queues/raw-record.ts";

function stored(baseOffset: number): RawRecord[] {
  const t0 = 1_780_000_000_000;
  const inputs: Omit<BatchRecordInput, "timestamp">[] = [
    { key: null, headers: {}, fields: { data: new Uint8Array(1024).fill(1) } },
    { key: new Uint8Array([1, 2, 3]), headers: { source: "cam-1", "strata-x": "é".repeat(40) }, fields: { t: makeTensor("F32", [2, 2], new Uint8Array(16).fill(3)), n: -5, f: 0.5, s: "x".repeat(300) } },
    { key: new Uint8Array(70_000).fill(9), headers: { h: "v" }, fields: { nested: { a: [1, "two", null, true] }, big: "y".repeat(70_000) } },
  ];
  const encoded = inputs.map((r, i) => encodeRecord({ ...r, timestamp: t0 + i }, t0));
  const batch = encodeBatch(encoded, { baseOffset, firstTimestamp: t0, maxTimestamp: t0 + inputs.length, producer: null });
  return scanBatchRecords(batch, readBatchHeader(batch)!);
}

/** The answer as it was built before: decode each record, then encode the whole object. */
function decodedThenEncoded(claimed: readonly RawClaimed[]): Uint8Array {
  return encodeMsgpack({
    records: claimed.map((c) => {
      const r = decodeRawRecord(c.raw);
      return { receipt: c.receipt, stream: c.stream, partition: c.partition, offset: r.offset, timestamp: r.timestamp, key: r.key, headers: r.headers, fields: r.fields, deliveries: c.deliveries };
    }),
  });
}

describe("claim MessagePack answer", () => {
  test("is the encoding of the decoded records, byte for byte", () => {
    const longStream = `tasks/${"s".repeat(40)}`;
    const claimed: RawClaimed[] = [
      ...stored(0).map((raw, i) => ({ receipt: `0.${raw.offset}.1.${"ab".repeat(12)}.tasks`, stream: "tasks", partition: 0, deliveries: 1 + i, raw })),
      ...stored(2 ** 40).map((raw) => ({ receipt: `300.${raw.offset}.70000.${"cd".repeat(12)}.${longStream}`, stream: longStream, partition: 300, deliveries: 70_000, raw })),
    ];
    expect(Buffer.from(encodeClaimedMsgpack(claimed)).equals(Buffer.from(decodedThenEncoded(claimed)))).toBe(true);
  });

  test("an empty claim", () => {
    expect(Buffer.from(encodeClaimedMsgpack([])).equals(Buffer.from(decodedThenEncoded([])))).toBe(true);
  });

  test("more records than a short array header holds", () => {
    const raws = stored(5);
    const claimed = Array.from({ length: 20 }, (_, i) => ({ receipt: `0.${i}.1.ff.q`, stream: "q", partition: 0, deliveries: 1, raw: raws[i % raws.length]! }));
    expect(Buffer.from(encodeClaimedMsgpack(claimed)).equals(Buffer.from(decodedThenEncoded(claimed)))).toBe(true);
  });
});
