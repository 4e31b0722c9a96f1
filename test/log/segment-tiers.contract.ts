// Sealing, uploading and reading back segments, run against any real ObjectStore (the local
// directory store and Ceph radosgw): the same behaviour is required of both.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import { partitions, segments } from "../../gateway/db/schema.ts";
import { partitionDir, type LogStore } from "../../gateway/log/log-store.ts";
import type { ObjectStore } from "../../gateway/objects/object-store.ts";
import type { PartitionLog } from "../../gateway/log/partition-log.ts";
import { segmentObjectKey } from "../../gateway/log/segment-format.ts";
import { makeFixture, meta, records, type Fixture } from "./log-fixture.ts";

const KiB = 1024;
/** Small segments so a test makes many: batches up to 16 KiB, segments of 64 KiB. */
const SMALL = { maxBatchBytes: 16 * KiB, segmentBytes: 64 * KiB, indexIntervalBytes: 4 * KiB, memoryTailBytes: 1 } as const;

export async function waitUntil(cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Appends `batches` batches of `perBatch` ~`size`-byte records, in order; returns the next `i`. */
async function fill(log: PartitionLog, batches: number, perBatch: number, size = 200, from = 0, ts = Date.now()): Promise<number> {
  let i = from;
  for (let b = 0; b < batches; b++) {
    await log.append(records(i, perBatch, size), meta(null, ts), "local");
    i += perBatch;
  }
  return i;
}

let readCalls = 0;

async function readAll(log: PartitionLog, from = log.startOffset, maxBytes = 32 * KiB): Promise<number[]> {
  const out: number[] = [];
  let offset = from;
  while (offset < log.endOffset) {
    readCalls++;
    const got = await log.read(offset, { maxRecords: 500, maxBytes });
    expect(got.length).toBeGreaterThan(0);
    for (const r of got) {
      expect(r.offset).toBe(offset++);
      out.push(r.fields?.["i"] as number);
    }
  }
  return out;
}

async function segmentRows(fx: Fixture, stream: string) {
  return fx.database.db.select().from(segments).where(and(eq(segments.stream, stream), eq(segments.partition, 0))).orderBy(segments.baseOffset);
}

export function segmentTierSuite(label: string, makeStore: (dir: string) => Promise<ObjectStore>): void {
  let fx: Fixture;
  const stream = "tiers/s";
  beforeEach(async () => {
    fx = await makeFixture({ makeStore });
    await fx.createStream(stream);
  });
  afterEach(async () => {
    const errors = fx.errors;
    await fx.cleanup();
    expect(errors).toEqual([]); // no background upload or retention failures
  });

  async function openLog(limits: Record<string, number> = {}, extra = {}): Promise<{ store: LogStore; log: PartitionLog }> {
    const store = await fx.open({ ...SMALL, ...limits }, extra);
    await store.openPartitions(stream, 1, {});
    return { store, log: store.partition(stream, 0) };
  }

  test(`${label}: segments seal by size, upload, commit, and the local file becomes cache`, async () => {
    const { log } = await openLog();
    const n = await fill(log, 60, 20); // ~4 KiB batches, ~240 KiB
    await waitUntil(async () => (await segmentRows(fx, stream)).length >= 3 && log.durableEndOffset === (await segmentRows(fx, stream)).at(-1)!.endOffset);
    const rows = await segmentRows(fx, stream);
    expect(rows[0]!.baseOffset).toBe(0);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      if (i > 0) expect(row.baseOffset).toBe(rows[i - 1]!.endOffset);
      expect(row.objectKey).toBe(segmentObjectKey(stream, 0, row.baseOffset));
      expect(row.objectKey).toMatch(/^streams\/tiers\/s\/0\/\d{20}\.seg$/);
      const head = await fx.objectStore.head(row.objectKey);
      expect(head?.size).toBe(row.bytes);
      expect(row.bytes - 64).toBeLessThanOrEqual(64 * KiB + 1024); // data <= segmentBytes, plus index + trailer
    }
    const cacheDir = join(partitionDir(fx.dataDir, stream, 0), "cache");
    await waitUntil(async () => (await readdir(cacheDir)).length === rows.length);
    expect(await readAll(log)).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  test(`${label}: a non-empty segment seals by age`, async () => {
    const { log } = await openLog({ segmentMs: 150 }, { sealCheckMs: 20 });
    await fill(log, 3, 5);
    expect(log.durableEndOffset).toBe(0);
    await waitUntil(() => log.durableEndOffset === 15, 10_000);
    const rows = await segmentRows(fx, stream);
    expect(rows.map((r) => [r.baseOffset, r.endOffset])).toEqual([[0, 15]]);
    // An empty active segment is never sealed.
    await new Promise((r) => setTimeout(r, 400));
    expect((await segmentRows(fx, stream)).length).toBe(1);
  });

  test(`${label}: reads come from the object store after the local cache is deleted, within the cache bound`, async () => {
    const cacheBytes = 150 * KiB;
    let { store, log } = await openLog({ cacheBytes, readAheadBytes: 256 * KiB });
    const n = await fill(log, 80, 20);
    await log.flushToObjectStore();
    const cacheDir = join(partitionDir(fx.dataDir, stream, 0), "cache");
    const usage = store.cacheUsage();
    expect(usage.bytes).toBeLessThanOrEqual(cacheBytes);
    await waitUntil(async () => {
      let onDisk = 0;
      // Eviction deletes files in the background: one listed here may be gone by its stat.
      for (const f of await readdir(cacheDir)) onDisk += (await stat(join(cacheDir, f)).catch(() => ({ size: 0 }))).size;
      return onDisk <= cacheBytes;
    });
    const rows = await segmentRows(fx, stream);
    expect(rows.reduce((s, r) => s + r.bytes, 0)).toBeGreaterThan(cacheBytes); // some segments only in the store

    await rm(cacheDir, { recursive: true, force: true });
    const metrics = fx.metrics();
    expect(metrics.segmentCacheBytes.get()).toBe(usage.bytes);
    expect(metrics.segmentsUploaded.get({ stream })).toBe(rows.length);
    const missesBefore = metrics.cacheMisses.get();
    const callsBefore = readCalls;
    expect(await readAll(log, 0, 4 * KiB)).toEqual(Array.from({ length: n }, (_, i) => i));
    const gets = metrics.cacheMisses.get() - missesBefore;
    expect(gets).toBeGreaterThan(0);
    // Read-ahead: a sequential reader needs far fewer GETs (footers included) than reads.
    expect(gets).toBeLessThan((readCalls - callsBefore) / 4);
    // Segments sealed after the wipe still commit and cache.
    const m = await fill(log, 20, 20, 200, n);
    await log.flushToObjectStore();
    expect((await readdir(cacheDir)).length).toBeGreaterThan(0);
    expect(await readAll(log)).toEqual(Array.from({ length: m }, (_, i) => i));
    const total = m;

    // And after a restart with the cache gone too.
    await store.close();
    ({ store, log } = await openLog({ cacheBytes }));
    await rm(cacheDir, { recursive: true, force: true });
    expect(await readAll(log)).toEqual(Array.from({ length: total }, (_, i) => i));
  });

  test(`${label}: acks=durable resolves only once the batch is in the object store, coalescing concurrent appends`, async () => {
    const { log } = await openLog({ segmentBytes: 16 * 1024 * 1024, maxBatchBytes: 1024 * 1024 });
    const results = await Promise.all(Array.from({ length: 20 }, (_, k) => log.append(records(k, 1), meta(), "durable")));
    const rows = await segmentRows(fx, stream);
    expect(log.durableEndOffset).toBe(20);
    for (const r of results) {
      const row = rows.find((s) => s.baseOffset <= r.baseOffset && r.baseOffset < s.endOffset);
      expect(row).toBeDefined();
      expect(await fx.objectStore.head(row!.objectKey)).toBeDefined();
    }
    expect(rows.length).toBeLessThan(20); // concurrent durable appends share seals
    const one = await log.append(records(99, 1), meta(), "durable");
    const last = (await segmentRows(fx, stream)).at(-1)!;
    expect(last.endOffset).toBe(one.baseOffset + 1);
    expect(await fx.objectStore.head(last.objectKey)).toBeDefined();
  });

  test(`${label}: a corrupt segment object is detected on read with CORRUPT_DATA`, async () => {
    const { store, log } = await openLog({ cacheBytes: 0 });
    await fill(log, 20, 20);
    await log.flushToObjectStore();
    const rows = await segmentRows(fx, stream);
    const first = rows[0]!;
    const original = await fx.objectStore.get(first.objectKey);
    const bad = original.slice();
    bad[500]! ^= 0x40; // inside the records of an early batch
    await fx.objectStore.put(first.objectKey, bad);
    await expect(log.read(0, { maxRecords: 1000, maxBytes: 1 << 20 })).rejects.toMatchObject({ code: "CORRUPT_DATA" });
    // Repaired in the store, it reads again (nothing damaged stays cached).
    await fx.objectStore.put(first.objectKey, original);
    expect((await log.read(0, { maxRecords: 1, maxBytes: 1 << 20 }))[0]!.offset).toBe(0);
    // A damaged footer is caught as well (fresh store: no cached footer).
    const badFooter = original.slice();
    badFooter[badFooter.length - 20]! ^= 0x01;
    await fx.objectStore.put(first.objectKey, badFooter);
    await store.close();
    const reopened = await fx.open({ ...SMALL, cacheBytes: 0 });
    await expect(reopened.partition(stream, 0).read(0, { maxRecords: 10, maxBytes: 1 << 20 })).rejects.toMatchObject({ code: "CORRUPT_DATA" });
    // Other segments still read fine.
    const second = rows[1]!;
    const got = await reopened.partition(stream, 0).read(second.baseOffset, { maxRecords: 5, maxBytes: 1 << 20 });
    expect(got[0]!.offset).toBe(second.baseOffset);
  });

  test(`${label}: retention by age removes old segments: rows, objects, cache files, start offset`, async () => {
    const { log } = await openLog();
    const now = Date.now();
    const old = now - 3_600_000;
    let i = await fill(log, 40, 20, 200, 0, old); // ~160 KiB of hour-old records
    i = await fill(log, 40, 20, 200, i, now);
    await log.flushToObjectStore();
    const before = await segmentRows(fx, stream);
    const expired = before.filter((s) => s.maxTimestamp < now - 60_000);
    expect(expired.length).toBeGreaterThan(0);
    log.setRetention({ ms: 60_000 });
    await log.enforceRetention(Date.now());
    const after = await segmentRows(fx, stream);
    expect(after.length).toBe(before.length - expired.length);
    const newStart = expired.at(-1)!.endOffset;
    expect(log.startOffset).toBe(newStart);
    const [p] = await fx.database.db.select().from(partitions).where(and(eq(partitions.stream, stream), eq(partitions.partition, 0)));
    expect(p!.startOffset).toBe(newStart);
    for (const s of expired) expect(await fx.objectStore.head(s.objectKey)).toBeUndefined();
    const cacheFiles = await readdir(join(partitionDir(fx.dataDir, stream, 0), "cache"));
    await waitUntil(async () => (await readdir(join(partitionDir(fx.dataDir, stream, 0), "cache"))).length === after.length);
    expect(cacheFiles.length).toBeGreaterThanOrEqual(after.length);
    await expect(log.read(newStart - 1, { maxRecords: 1, maxBytes: 1000 })).rejects.toMatchObject({ code: "OFFSET_OUT_OF_RANGE" });
    await expect(log.read(0, { maxRecords: 1, maxBytes: 1000 })).rejects.toMatchObject({ code: "OFFSET_OUT_OF_RANGE" });
    expect((await log.read(newStart, { maxRecords: 1, maxBytes: 1000 }))[0]!.offset).toBe(newStart);
    expect(i).toBe(log.endOffset);
  });

  test(`${label}: retention by bytes removes the oldest segments while the partition is over the bound`, async () => {
    const { store, log } = await openLog();
    await fill(log, 80, 20);
    await log.flushToObjectStore();
    const before = await segmentRows(fx, stream);
    const bound = 100 * KiB;
    log.setRetention({ bytes: bound });
    await log.enforceRetention(Date.now());
    expect(log.bytes).toBeLessThanOrEqual(bound);
    const after = await segmentRows(fx, stream);
    expect(after.length).toBeLessThan(before.length);
    // Oldest first, and no more than needed: adding back the newest removed one would exceed the bound.
    const removed = before.slice(0, before.length - after.length);
    expect(log.bytes + removed.at(-1)!.bytes).toBeGreaterThan(bound);
    expect(log.startOffset).toBe(after[0]!.baseOffset);
    for (const s of removed) expect(await fx.objectStore.head(s.objectKey)).toBeUndefined();
    await expect(log.read(0, { maxRecords: 1, maxBytes: 1000 })).rejects.toMatchObject({ code: "OFFSET_OUT_OF_RANGE" });
    // The start offset survives a restart.
    await store.close();
    const reopened = await fx.open(SMALL);
    expect(reopened.partition(stream, 0).startOffset).toBe(after[0]!.baseOffset);
  });
}
