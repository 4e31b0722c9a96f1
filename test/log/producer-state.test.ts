// Idempotent producers per partition: duplicates answered with their original offsets and
// nothing written, stale epochs fenced, new epochs reset, state surviving restarts (from the
// segment snapshot in the catalog plus WAL replay).
import { afterEach, beforeEach, expect, test } from "bun:test";
import { makeFixture, meta, records, type Fixture } from "./log-fixture.ts";
import { waitUntil } from "./segment-tiers.contract.ts";

let fx: Fixture;
beforeEach(async () => {
  fx = await makeFixture();
  await fx.createStream("prod/s");
});
afterEach(async () => {
  await fx.cleanup();
});

const P = (seq: number, epoch = 0, id = 42) => ({ id, epoch, seq });

test("a retried batch returns its original offsets and writes nothing", async () => {
  const store = await fx.open();
  await store.openPartitions("prod/s", 1, {});
  const log = store.partition("prod/s", 0);
  await log.append(records(0, 3), meta(), "local");
  const first = await log.append(records(3, 4), meta(P(0)), "local");
  const second = await log.append(records(7, 2), meta(P(1)), "local");
  expect(first).toEqual({ baseOffset: 3, duplicate: false });
  expect(second).toEqual({ baseOffset: 7, duplicate: false });
  const end = log.endOffset;
  const bytes = log.bytes;
  expect(await log.append(records(3, 4), meta(P(0)), "local")).toEqual({ baseOffset: 3, duplicate: true });
  expect(await log.append(records(7, 2), meta(P(1)), "local")).toEqual({ baseOffset: 7, duplicate: true });
  expect(log.endOffset).toBe(end);
  expect(log.bytes).toBe(bytes);
  expect(log.producerState(42)).toEqual({ epoch: 0, lastSeq: 1 });
  expect(log.producerBatch(42, 0)).toEqual({ seq: 0, baseOffset: 3, count: 4 });
  expect(log.producerState(43)).toBeUndefined();
});

test("concurrent retries of an in-flight batch are duplicates of it", async () => {
  const store = await fx.open({ groupCommitMs: 20 });
  await store.openPartitions("prod/s", 1, {});
  const log = store.partition("prod/s", 0);
  const results = await Promise.all([0, 1, 2].map(() => log.append(records(0, 5), meta(P(9)), "local")));
  expect(results.map((r) => r.baseOffset)).toEqual([0, 0, 0]);
  expect(results.filter((r) => r.duplicate).length).toBe(2);
  expect(log.endOffset).toBe(5);
});

test("only the last 5 batches of a producer are remembered", async () => {
  const store = await fx.open();
  await store.openPartitions("prod/s", 1, {});
  const log = store.partition("prod/s", 0);
  for (let seq = 0; seq < 7; seq++) await log.append(records(seq, 1), meta(P(seq)), "local");
  expect((await log.append(records(0, 1), meta(P(2)), "local")).duplicate).toBe(true);
  // seq 1 fell out of the window: accepted as a new batch (the service rejects it as a gap first).
  const r = await log.append(records(0, 1), meta(P(1)), "local");
  expect(r).toEqual({ baseOffset: 7, duplicate: false });
});

test("a lower epoch is fenced, a higher epoch resets the producer", async () => {
  const store = await fx.open();
  await store.openPartitions("prod/s", 1, {});
  const log = store.partition("prod/s", 0);
  await log.append(records(0, 1), meta(P(0, 3)), "local");
  await log.append(records(1, 1), meta(P(1, 3)), "local");
  const end = log.endOffset;
  await expect(log.append(records(2, 1), meta(P(2, 2)), "local")).rejects.toMatchObject({ code: "PRODUCER_FENCED" });
  expect(log.endOffset).toBe(end);
  // New epoch: sequence 0 again is a new batch, not a duplicate of epoch 3's seq 0.
  expect(await log.append(records(2, 1), meta(P(0, 4)), "local")).toEqual({ baseOffset: 2, duplicate: false });
  expect(log.producerState(42)).toEqual({ epoch: 4, lastSeq: 0 });
  await expect(log.append(records(3, 1), meta(P(5, 3)), "local")).rejects.toMatchObject({ code: "PRODUCER_FENCED" });
});

test("producer state survives restarts, from the WAL and from committed segment snapshots", async () => {
  const limits = { maxBatchBytes: 16 * 1024, segmentBytes: 32 * 1024 };
  let store = await fx.open(limits);
  await store.openPartitions("prod/s", 1, {});
  let log = store.partition("prod/s", 0);
  const offsets: number[] = [];
  for (let seq = 0; seq < 40; seq++) offsets.push((await log.append(records(seq, 10, 200), meta(P(seq, 1, 100 + (seq % 3))), "local")).baseOffset);
  await log.flushToObjectStore();
  await log.append(records(40, 1), meta(P(40, 1, 100)), "local"); // stays in the WAL
  await store.close();

  store = await fx.open(limits);
  log = store.partition("prod/s", 0);
  const end = log.endOffset;
  // The last five batches of each producer (ids 100..102 take turns) are still duplicates, at their original offsets.
  for (let seq = 28; seq < 40; seq++) {
    expect(await log.append(records(seq, 10, 200), meta(P(seq, 1, 100 + (seq % 3))), "local")).toEqual({ baseOffset: offsets[seq]!, duplicate: true });
  }
  expect((await log.append(records(40, 1), meta(P(40, 1, 100)), "local")).duplicate).toBe(true);
  expect(log.endOffset).toBe(end);
  await expect(log.append(records(0, 1), meta(P(41, 0, 101)), "local")).rejects.toMatchObject({ code: "PRODUCER_FENCED" });

  // With the WAL gone (everything sealed, committed and the directory wiped), the snapshot alone answers.
  await log.flushToObjectStore();
  await waitUntil(() => log.durableEndOffset === log.endOffset);
  await store.close();
  const { rm } = await import("node:fs/promises");
  await rm(`${fx.dataDir}/log`, { recursive: true, force: true });
  store = await fx.open(limits);
  log = store.partition("prod/s", 0);
  expect(log.endOffset).toBe(end);
  expect(await log.append(records(40, 1), meta(P(40, 1, 100)), "local")).toEqual({ baseOffset: end - 1, duplicate: true });
  expect(log.producerState(102)).toEqual({ epoch: 1, lastSeq: 38 });
});
