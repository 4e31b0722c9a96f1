// Reads of the active WAL and of sealed files go through memory mappings under Bun (views of the
// page cache, no buffer per read). A WAL grows past its mapping between reads and must be mapped
// again; a full disk cuts the WAL back to its synced end, which no reader ever passed. Every
// record read back is the one written, by content.
import { afterEach, beforeEach, expect, test } from "bun:test";
import type { PartitionLog } from "../../gateway/log/partition-log.ts";
import { makeFixture, meta, records, type Fixture } from "./log-fixture.ts";

const KiB = 1024;
const stream = "mapped/s";

let fx: Fixture;
beforeEach(async () => {
  fx = await makeFixture();
  await fx.createStream(stream);
});
afterEach(async () => {
  await fx.cleanup();
});

/** Every record in [from, to), checked by offset and its `i` field. */
async function readAll(log: PartitionLog, from: number, to: number, maxBytes: number): Promise<void> {
  let offset = from;
  while (offset < to) {
    const got = await log.read(offset, { maxRecords: 1000, maxBytes });
    expect(got.length).toBeGreaterThan(0);
    for (const r of got) {
      if (r.offset >= to) return;
      expect(r.offset).toBe(offset);
      expect(r.fields?.["i"]).toBe(offset);
      offset++;
    }
  }
}

test("a reader of the active WAL sees every record while the WAL grows past its mapping", async () => {
  // No memory tail and one big segment: every read is a read of the active WAL file. Each round
  // grows the WAL by a little (read past the mapping with positional reads) and then by more than
  // the remapping step (8 MiB: the WAL is mapped again).
  const store = await fx.open({ memoryTailBytes: 0, segmentBytes: 256 << 20, indexIntervalBytes: 64 * KiB });
  await store.openPartitions(stream, 1, {});
  const log = store.partition(stream, 0);
  let end = 0;
  const append = async (batches: number, recordBytes: number): Promise<void> => {
    for (let b = 0; b < batches; b++) {
      await log.append(records(end, 8, recordBytes), meta(), "local");
      end += 8;
    }
  };
  for (let round = 0; round < 3; round++) {
    await append(5, 300);
    await readAll(log, 0, end, 4 << 20);
    await readAll(log, end - 40, end, 8 * KiB);
    await append(20, 64 * KiB); // 10 MiB
    await readAll(log, end - 200, end, 2 << 20);
  }
  await readAll(log, 0, end, 16 << 20);
  expect(log.endOffset).toBe(end);
  expect(fx.errors).toEqual([]);
});

test("records read from the WAL, then from the sealed file and the cache, are the same", async () => {
  const store = await fx.open({ memoryTailBytes: 0, segmentBytes: 32 * KiB, maxBatchBytes: 8 * KiB, indexIntervalBytes: 2 * KiB });
  await store.openPartitions(stream, 1, {});
  const log = store.partition(stream, 0);
  let end = 0;
  for (let b = 0; b < 40; b++) {
    await log.append(records(end, 10, 200), meta(), b % 10 === 9 ? "durable" : "local");
    end += 10;
    await readAll(log, Math.max(0, end - 30), end, 4 * KiB);
  }
  await readAll(log, 0, end, 16 * KiB);
  expect(fx.errors).toEqual([]);
});
