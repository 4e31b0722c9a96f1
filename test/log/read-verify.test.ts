// CRC32C checks on the read path: bytes fresh from the object store are verified before they are
// served; a range the shared object-store cache holds is verified once, on the first walk over
// it, and served from memory afterwards. A batch of the active WAL or of a sealed file is checked
// by its first read only; one that fails is never marked, so damage on disk fails every read.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { open, readdir } from "node:fs/promises";
import { join } from "node:path";
import { encodeBatch } from "../../core/log/batch.ts";
import { createGatewayMetrics } from "../../gateway/metrics.ts";
import { ChunkedReader, readBatches, type ByteSource } from "../../gateway/log/batch-reader.ts";
import { LocalObjectStore } from "../../gateway/objects/local-object-store.ts";
import { partitionDir } from "../../gateway/log/log-store.ts";
import { RemoteSegmentReader } from "../../gateway/log/remote-segment-reader.ts";
import { makeFixture, meta, records, type Fixture } from "./log-fixture.ts";

let fx: Fixture;
beforeEach(async () => {
  fx = await makeFixture();
});
afterEach(async () => {
  await fx.cleanup();
});

/** Ten batches of five ~100-byte records, back to back, at offsets 0..49. */
function segmentData(): { data: Uint8Array; positions: number[] } {
  const parts: Uint8Array[] = [];
  const positions: number[] = [];
  let at = 0;
  for (let b = 0; b < 10; b++) {
    const bytes = encodeBatch(records(b * 5, 5), { baseOffset: b * 5, firstTimestamp: 1, maxTimestamp: 1, producer: null });
    positions.push(at);
    parts.push(bytes);
    at += bytes.length;
  }
  const data = new Uint8Array(at);
  let off = 0;
  for (const p of parts) {
    data.set(p, off);
    off += p.length;
  }
  return { data, positions };
}

function walk(source: ByteSource, end: number) {
  return readBatches(new ChunkedReader(source, end, 1 << 20), {
    position: 0,
    end,
    fromOffset: 0,
    maxBytes: 1 << 20,
    source: "test",
    copy: "never",
  });
}

test("a batch in a cached range is verified on the first walk, and only then", async () => {
  const { data, positions } = segmentData();
  const verified = new Set<number>();
  const source: ByteSource = { read: async (p) => data.subarray(p), verified: () => verified };
  data[positions[3]! + 100]! ^= 0x10; // damage batch 3
  await expect(walk(source, data.length)).rejects.toMatchObject({ code: "CORRUPT_DATA" });
  expect([...verified]).toEqual(positions.slice(0, 3)); // batches before the damage passed
  data[positions[3]! + 100]! ^= 0x10;
  expect((await walk(source, data.length)).length).toBe(10);
  expect([...verified].sort((a, b) => a - b)).toEqual(positions);
});

test("bytes without a verified set are checked on every read", async () => {
  const { data, positions } = segmentData();
  const source: ByteSource = { read: async (p) => data.slice(p) };
  expect((await walk(source, data.length)).length).toBe(10);
  data[positions[7]! + 90]! ^= 0x01;
  await expect(walk(source, data.length)).rejects.toMatchObject({ code: "CORRUPT_DATA" });
});

test("the object-store range cache remembers verified batches per range", async () => {
  const store = await LocalObjectStore.open(join(fx.dataDir, "remote-objects"));
  const { data, positions } = segmentData();
  await store.put("seg", data);
  const remote = new RemoteSegmentReader(store, 1 << 20, createGatewayMetrics());
  const source = remote.source("seg");
  const first = await source.read(0, 64, data.length);
  expect(source.verified?.(first)?.size).toBe(0); // fresh from the store: nothing verified yet
  expect((await walk(source, data.length)).length).toBe(10);
  const again = await source.read(0, 64, data.length);
  expect([...(source.verified?.(again) ?? [])].sort((a, b) => a - b)).toEqual(positions);
  remote.forget("seg");
  expect(source.verified?.(await source.read(0, 64, data.length))?.size).toBe(0);
});

test("damage on disk under the active WAL before its first read is caught on every read, not only the first", async () => {
  await fx.createStream("v/s");
  const logs = await fx.open({ memoryTailBytes: 1 }); // reads come from the file, not memory
  await logs.openPartitions("v/s", 1, {});
  const log = logs.partition("v/s", 0);
  for (let b = 0; b < 4; b++) await log.append(records(b * 5, 5), meta(), "local");
  // Damaged before any read checked the batch: a failed check never marks it, so every read fails.
  const dir = partitionDir(fx.dataDir, "v/s", 0);
  const wal = join(dir, (await readdir(dir)).find((n) => n.endsWith(".wal"))!);
  const fh = await open(wal, "r+");
  const byte = new Uint8Array(1);
  await fh.read(byte, 0, 1, 150);
  byte[0]! ^= 0x20;
  await fh.write(byte, 0, 1, 150); // inside the first batch's records
  await fh.close();
  for (let i = 0; i < 2; i++) {
    await expect(log.read(0, { maxRecords: 100, maxBytes: 1 << 20 })).rejects.toMatchObject({ code: "CORRUPT_DATA" });
  }
  await logs.close();
});

test("damage on disk under a WAL batch already checked is refused once the WAL is sealed, on every read", async () => {
  await fx.createStream("v/s");
  const logs = await fx.open({ memoryTailBytes: 1 }); // reads come from the file, not memory
  await logs.openPartitions("v/s", 1, {});
  const log = logs.partition("v/s", 0);
  for (let b = 0; b < 4; b++) await log.append(records(b * 5, 5), meta(), "local");
  expect((await log.read(0, { maxRecords: 100, maxBytes: 1 << 20 })).length).toBe(20);
  const dir = partitionDir(fx.dataDir, "v/s", 0);
  const wal = join(dir, (await readdir(dir)).find((n) => n.endsWith(".wal"))!);
  const fh = await open(wal, "r+");
  const byte = new Uint8Array(1);
  await fh.read(byte, 0, 1, 150);
  byte[0]! ^= 0x20;
  await fh.write(byte, 0, 1, 150); // inside the first batch's records
  await fh.close();
  // A durable append seals the WAL and uploads it: the cache refuses the damaged file, and the
  // object store's copy (the same bytes) fails its CRC.
  await log.append(records(20, 5), meta(), "durable");
  const refused = fx.metrics().cacheFilesRefused.get();
  for (let i = 0; i < 2; i++) {
    await expect(log.read(0, { maxRecords: 100, maxBytes: 1 << 20 })).rejects.toMatchObject({ code: "CORRUPT_DATA" });
  }
  expect(fx.metrics().cacheFilesRefused.get()).toBe(refused + 1);
  // The undamaged segment after it reads.
  expect((await log.read(20, { maxRecords: 100, maxBytes: 1 << 20 })).map((r) => r.offset)).toEqual([20, 21, 22, 23, 24]);
  await logs.close();
});
