// Sample reads ask storage for no more than they answer: a span inside one partition is one raw
// read (bounded by count or by max_bytes), a span across a partition boundary one read per
// partition, and reads by consecutive ascending indexes are one read per partition too. The log
// is a real gateway's; the reader's only dependency (readRaw) is observed, not replaced.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { DatasetVersion } from "../../gateway/datasets/dataset-wire.ts";
import { SampleReader } from "../../gateway/datasets/sample-reader.ts";
import type { LogService, ReadRequest } from "../../gateway/streams/log-service.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";

const SAMPLE_BYTES = 100 * 1024;
const PER_PARTITION = 120;

let live: LiveGateway;
let version: DatasetVersion;
const calls: Omit<ReadRequest, "fields">[] = [];
let reader: SampleReader;

beforeAll(async () => {
  live = await liveGateway();
  const { streams, log, datasets } = live.gateway.services;
  await streams.create({ name: "reads-s", partitions: 2 });
  for (const partition of [0, 1]) {
    for (let b = 0; b < PER_PARTITION / 10; b++) {
      const records = Array.from({ length: 10 }, (_, j) => ({ key: null, partition, headers: {}, fields: { i: b * 10 + j, image: new Uint8Array(SAMPLE_BYTES).fill(j) } }));
      await log.publish("reads-s", { records, producer: null });
    }
  }
  version = await datasets.create({ name: "reads", stream: "reads-s" });
  const counted: Pick<LogService, "readRaw"> = {
    readRaw: (request) => {
      calls.push(request);
      return log.readRaw(request);
    },
  };
  reader = new SampleReader(counted, () => Promise.reject(new Error("unfiltered versions have no match offsets")), live.gateway.config.limits.maxFetchRecords);
});

afterAll(async () => {
  await live.close();
});

async function readsOf<T>(read: () => Promise<T>): Promise<{ result: T; reads: number }> {
  calls.length = 0;
  const result = await read();
  return { result, reads: calls.length };
}

test("a span inside one partition is one storage read, bounded by count or by max_bytes", async () => {
  expect(version.partitions.map((p) => p.samples)).toEqual([PER_PARTITION, PER_PARTITION]);
  for (const [start, count] of [[0, 80], [3, 17], [PER_PARTITION - 10, 10], [PER_PARTITION + 5, 60]] as const) {
    const { result, reads } = await readsOf(() => reader.range(version, start, count, 64 << 20));
    expect(result.samples.length).toBe(count);
    expect(reads).toBe(1);
  }
  // Batches hold 10 records, so start 10 is batch-aligned.
  for (const maxBytes of [8 << 20, 1 << 20, SAMPLE_BYTES * 5 + 10, 1]) {
    const { result, reads } = await readsOf(() => reader.range(version, 10, 100, maxBytes));
    expect(result.samples.length).toBe(Math.max(1, Math.floor(maxBytes / (SAMPLE_BYTES + 20))));
    expect(result.samples.map((s) => s.offset)).toEqual(Array.from({ length: result.samples.length }, (_, k) => 10 + k));
    expect(reads).toBe(1);
  }
  // Starting inside a batch, the storage engine counts the whole first batch against max_bytes
  // (PartitionLog.readBatches), so a byte-bounded span may take a second read; it starts at the
  // first offset not returned, so no batch is read twice unless a read cut one by bytes.
  for (const maxBytes of [8 << 20, SAMPLE_BYTES * 5 + 10]) {
    const { result, reads } = await readsOf(() => reader.range(version, 7, 100, maxBytes));
    expect(result.samples.length).toBe(Math.max(1, Math.floor(maxBytes / (SAMPLE_BYTES + 20))));
    expect(reads).toBeLessThanOrEqual(2);
    if (reads === 2) expect(calls[1]!.offset).toBe(calls[0]!.offset + 3);
  }
});

test("a span across the partition boundary is one read per partition", async () => {
  const { result, reads } = await readsOf(() => reader.range(version, PER_PARTITION - 30, 60, 64 << 20));
  expect(result.samples.map((s) => s.partition)).toEqual([...Array(30).fill(0), ...Array(30).fill(1)]);
  expect(reads).toBe(2);
});

test("reads by index: consecutive ascending indexes are one read per partition; scattered ones one per run", async () => {
  const ascending = Array.from({ length: 40 }, (_, k) => 50 + k);
  const one = await readsOf(() => reader.at(version, ascending, 64 << 20));
  expect(one.result.samples.map((s) => s.offset)).toEqual(ascending);
  expect(one.reads).toBe(1);
  const across = Array.from({ length: 40 }, (_, k) => PER_PARTITION - 20 + k);
  expect((await readsOf(() => reader.at(version, across, 64 << 20))).reads).toBe(2);
  // Descending order, duplicates and runs: answered in request order, one read per sorted run.
  const scattered = [200, 201, 10, 11, 12, 10, 90];
  const runs = await readsOf(() => reader.at(version, scattered, 64 << 20));
  expect(runs.result.samples.map((s) => version.partitions[s.partition]!.first_index + s.offset - version.partitions[s.partition]!.start)).toEqual(scattered);
  expect(runs.reads).toBe(3);
  // A byte bound: a prefix in request order, at least the first sample.
  const bounded = await readsOf(() => reader.at(version, [100, 3, 4, 5], SAMPLE_BYTES * 2 + 100));
  expect(bounded.result.samples.map((s) => s.offset)).toEqual([100, 3]);
  const single = await readsOf(() => reader.at(version, [100, 3], 1));
  expect(single.result.samples.map((s) => s.offset)).toEqual([100]);
  expect(single.reads).toBe(1);
});
