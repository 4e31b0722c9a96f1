// The claim path's read-ahead alone: kept records are handed out only from exactly the cursor,
// in order, once each; a cursor elsewhere (retention, a reload) drops the entry; a stream created
// again under its name has another key; a group's entries can be forgotten.
import { describe, expect, test } from "bun:test";
import type { RawRecord } from "../../core/log/batch.ts";
import { ReadAhead } from "../../gateway/queues/read-ahead.ts";

const batch = new Uint8Array(64);
const records = (from: number, n: number): RawRecord[] => Array.from({ length: n }, (_, i) => ({ offset: from + i, timestamp: 0, batch, key: [0, 1], headers: [1, 2], fields: [2, 3] }));
const offsets = (rs: readonly RawRecord[] | undefined) => rs?.map((r) => r.offset);

describe("ReadAhead", () => {
  test("takes from exactly the cursor, in order, each record once", () => {
    const ahead = new ReadAhead();
    const key = ReadAhead.key("g", "s", 1, 0);
    ahead.keep(key, records(10, 5));
    expect(offsets(ahead.take(key, 10, 2))).toEqual([10, 11]);
    expect(offsets(ahead.take(key, 12, 10))).toEqual([12, 13, 14]);
    expect(ahead.take(key, 15, 1)).toBeUndefined();
  });

  test("a cursor elsewhere misses and drops the entry", () => {
    const ahead = new ReadAhead();
    const key = ReadAhead.key("g", "s", 1, 0);
    ahead.keep(key, records(10, 5));
    expect(ahead.take(key, 12, 1)).toBeUndefined();
    expect(ahead.take(key, 10, 1)).toBeUndefined();
  });

  test("a stream created again, another partition or another group has its own key; forget drops a group's", () => {
    const ahead = new ReadAhead();
    ahead.keep(ReadAhead.key("g", "s", 1, 0), records(0, 3));
    ahead.keep(ReadAhead.key("h", "s", 1, 0), records(0, 3));
    expect(ahead.take(ReadAhead.key("g", "s", 2, 0), 0, 1)).toBeUndefined();
    expect(ahead.take(ReadAhead.key("g", "s", 1, 1), 0, 1)).toBeUndefined();
    ahead.forget("g");
    expect(ahead.take(ReadAhead.key("g", "s", 1, 0), 0, 1)).toBeUndefined();
    expect(offsets(ahead.take(ReadAhead.key("h", "s", 1, 0), 0, 1))).toEqual([0]);
  });
});
