import { afterEach, beforeEach, expect, test } from "bun:test";
import { StrataError } from "../../core/errors.ts";
import { makeFixture, meta, records, type Fixture } from "./log-fixture.ts";

let fx: Fixture;
beforeEach(async () => {
  fx = await makeFixture();
  await fx.createStream("t/a", 2);
});
afterEach(async () => {
  await fx.cleanup();
});

test("append assigns dense offsets and reads them back in order", async () => {
  const store = await fx.open();
  await store.openPartitions("t/a", 2, {});
  const log = store.partition("t/a", 0);
  expect(log.endOffset).toBe(0);
  const results = await Promise.all([0, 1, 2, 3].map((k) => log.append(records(k * 10, 10), meta(), "local")));
  expect(results.map((r) => r.baseOffset).sort((a, b) => a - b)).toEqual([0, 10, 20, 30]);
  expect(log.endOffset).toBe(40);
  const got = await log.read(0, { maxRecords: 1000, maxBytes: 1 << 20 });
  expect(got.map((r) => r.offset)).toEqual(Array.from({ length: 40 }, (_, i) => i));
  const mid = await log.read(15, { maxRecords: 3, maxBytes: 1 << 20 });
  expect(mid.map((r) => r.offset)).toEqual([15, 16, 17]);
  expect(await log.read(40, { maxRecords: 10, maxBytes: 1000 })).toEqual([]);
  await expect(log.read(41, { maxRecords: 1, maxBytes: 1 })).rejects.toMatchObject({ code: "OFFSET_OUT_OF_RANGE" });
  // One record even when it is bigger than maxBytes.
  expect((await log.read(3, { maxRecords: 10, maxBytes: 1 })).length).toBe(1);
  expect(store.partition("t/a", 1).endOffset).toBe(0);
  expect(() => store.partition("t/a", 2)).toThrow(StrataError);
});

test("reopen recovers every acknowledged batch and continues at the right offset", async () => {
  let store = await fx.open();
  await store.openPartitions("t/a", 2, {});
  for (let k = 0; k < 5; k++) await store.partition("t/a", 1).append(records(k * 7, 7), meta(), "local");
  await store.close();
  store = await fx.open();
  const log = store.partition("t/a", 1);
  expect(log.endOffset).toBe(35);
  expect((await log.append(records(35, 1), meta(), "local")).baseOffset).toBe(35);
  const got = await log.read(0, { maxRecords: 100, maxBytes: 1 << 20 });
  expect(got.map((r) => r.fields?.["i"])).toEqual(Array.from({ length: 36 }, (_, i) => i));
});

test("batch over maxBatchBytes is rejected with BATCH_TOO_LARGE and nothing is written", async () => {
  const store = await fx.open({ maxBatchBytes: 4096 });
  await store.openPartitions("t/a", 2, {});
  const log = store.partition("t/a", 0);
  await expect(log.append(records(0, 100, 100), meta(), "local")).rejects.toMatchObject({ code: "BATCH_TOO_LARGE" });
  expect(log.endOffset).toBe(0);
  expect(log.bytes).toBe(0);
});

test("waitForData resolves on append and on timeout", async () => {
  const store = await fx.open();
  await store.openPartitions("t/a", 2, {});
  const log = store.partition("t/a", 0);
  const started = Date.now();
  await log.waitForData(0, 50);
  expect(Date.now() - started).toBeGreaterThanOrEqual(40);
  const waiting = log.waitForData(0, 5000);
  await log.append(records(0, 1), meta(), "local");
  await waiting;
  expect(log.endOffset).toBe(1);
  const ac = new AbortController();
  const aborted = log.waitForData(1, 5000, ac.signal);
  ac.abort();
  await aborted;
});

test("stream names never become paths as given: '/' is encoded, bad names are refused", async () => {
  const { partitionDir } = await import("../../gateway/log/log-store.ts");
  expect(partitionDir("/data", "models/detector", 3)).toBe("/data/log/models%2Fdetector/3");
  for (const bad of ["../x", "a//b", "/abs", "a/../../b", "A", ""]) {
    expect(() => partitionDir("/data", bad, 0)).toThrow(expect.objectContaining({ code: "INVALID_STREAM_NAME" }));
  }
  const store = await fx.open();
  await expect(store.openPartitions("../escape", 1, {})).rejects.toMatchObject({ code: "INVALID_STREAM_NAME" });
});

test("the background timer enforces each stream's retention from the catalog", async () => {
  await fx.createStream("t/ret", 1, { bytes: 40 * 1024 });
  const store = await fx.open({ maxBatchBytes: 16 * 1024, segmentBytes: 16 * 1024 }, { retentionCheckMs: 25 });
  const log = store.partition("t/ret", 0); // opened from the catalog by LogStore.open
  for (let k = 0; k < 40; k++) await log.append(records(k * 10, 10, 200), meta(), "local");
  await log.flushToObjectStore();
  const deadline = Date.now() + 10_000;
  while (log.bytes > 40 * 1024 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(log.bytes).toBeLessThanOrEqual(40 * 1024);
  expect(log.startOffset).toBeGreaterThan(0);
  expect(fx.errors).toEqual([]);
});

test("appends past maxPendingBytes waiting for fsync are refused with UNAVAILABLE", async () => {
  const store = await fx.open({ maxBatchBytes: 8 * 1024, maxPendingBytes: 16 * 1024, groupCommitMs: 200, groupCommitBytes: 1024 * 1024 });
  await store.openPartitions("t/a", 2, {});
  const log = store.partition("t/a", 0);
  const a = log.append(records(0, 30, 200), meta(), "local"); // ~6.5 KiB each, lingering 200 ms
  const b = log.append(records(30, 30, 200), meta(), "local");
  await expect(log.append(records(60, 30, 200), meta(), "local")).rejects.toMatchObject({ code: "UNAVAILABLE" });
  expect((await a).baseOffset).toBe(0);
  expect((await b).baseOffset).toBe(30);
  expect(log.endOffset).toBe(60);
  expect((await log.append(records(60, 30, 200), meta(), "local")).baseOffset).toBe(60);
});

test("pipelined group commits: acks come in offset order, only once synced, across segment rolls", async () => {
  // Small groups, several in flight, small segments: many writes overlap and several rolls
  // happen while appends keep arriving.
  const limits = {
    groupCommitMs: 0,
    groupCommitBytes: 1024,
    groupCommitMaxBytes: 2048,
    walWritesInFlight: 4,
    maxBatchBytes: 8 * 1024,
    segmentBytes: 16 * 1024,
    indexIntervalBytes: 1024,
    memoryTailBytes: 4096,
  };
  let store = await fx.open(limits);
  await store.openPartitions("t/a", 2, {});
  let log = store.partition("t/a", 0);
  const acked: number[] = [];
  const appends = Array.from({ length: 120 }, async (_, k) => {
    const { baseOffset } = await log.append(records(k * 3, 3), meta(), "local");
    // An ack means this batch and everything before it are synced and readable.
    expect(log.endOffset).toBeGreaterThanOrEqual(baseOffset + 3);
    acked.push(baseOffset);
  });
  await Promise.all(appends);
  expect(acked).toEqual(Array.from({ length: 120 }, (_, k) => k * 3));
  const all = async (): Promise<number[]> => {
    const out: number[] = [];
    for (let at = 0; at < log.endOffset; ) {
      const got = await log.read(at, { maxRecords: 1000, maxBytes: 1 << 20 });
      for (const r of got) out.push(r.fields?.["i"] as number);
      at += got.length;
    }
    return out;
  };
  const expected = Array.from({ length: 360 }, (_, i) => i);
  expect(await all()).toEqual(expected);
  await store.close();
  store = await fx.open(limits);
  log = store.partition("t/a", 0);
  expect(log.endOffset).toBe(360);
  expect(await all()).toEqual(expected);
});

test("acks=durable appends past maxOffsetWaiters are refused before anything is written", async () => {
  const { resolveLimits } = await import("../../gateway/log/storage-limits.ts");
  expect(() => resolveLimits({ maxOffsetWaiters: 0 })).toThrow(expect.objectContaining({ code: "BAD_REQUEST" }));
  const store = await fx.open({ maxOffsetWaiters: 2 });
  await store.openPartitions("t/a", 2, {});
  const log = store.partition("t/a", 0);
  // Both wait for an upload when the third arrives (all three are called in the same tick).
  const a = log.append(records(0, 1), meta(), "durable");
  const b = log.append(records(1, 1), meta(), "durable");
  await expect(log.append(records(2, 1), meta(), "durable")).rejects.toMatchObject({ code: "UNAVAILABLE" });
  expect((await a).baseOffset).toBe(0);
  expect((await b).baseOffset).toBe(1);
  expect(log.endOffset).toBe(2);
  expect(log.durableEndOffset).toBe(2);
  expect((await log.append(records(2, 1), meta(), "durable")).baseOffset).toBe(2);
  expect((await log.read(0, { maxRecords: 10, maxBytes: 1 << 20 })).map((r) => r.fields?.["i"])).toEqual([0, 1, 2]);
});
