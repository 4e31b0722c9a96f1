// The segment cache's CRC rule: a file is verified once, as it enters the cache (upload) or at
// its first read after a restart adopted it, and read without CRC checks afterwards; a file
// damaged before its first read is refused (CORRUPT_DATA, dropped) and the object store serves
// the read. CRC computations are counted through strata_batch_crc_checks_total, per tier.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { segments } from "../../gateway/db/schema.ts";
import { partitionDir, type LogStore } from "../../gateway/log/log-store.ts";
import type { PartitionLog } from "../../gateway/log/partition-log.ts";
import type { CrcTier } from "../../gateway/log/partition-reader.ts";
import { makeFixture, meta, records, type Fixture } from "./log-fixture.ts";
import { waitUntil } from "./segment-tiers.contract.ts";

const KiB = 1024;
/** Small segments (64 KiB of ~4 KiB batches), reads from files rather than the memory tail. */
const SMALL = { maxBatchBytes: 16 * KiB, segmentBytes: 64 * KiB, indexIntervalBytes: 4 * KiB, memoryTailBytes: 1 } as const;
const stream = "verify/s";

let fx: Fixture;
beforeEach(async () => {
  fx = await makeFixture();
  await fx.createStream(stream);
});
afterEach(async () => {
  await fx.cleanup();
});

async function openLog(): Promise<{ store: LogStore; log: PartitionLog }> {
  const store = await fx.open(SMALL);
  await store.openPartitions(stream, 1, {});
  return { store, log: store.partition(stream, 0) };
}

/** Appends 60 batches of 20 ~200-byte records (several segments) and waits until two are cached. */
async function fillAndCache(log: PartitionLog): Promise<void> {
  for (let b = 0; b < 60; b++) await log.append(records(b * 20, 20, 200), meta(), "local");
  await waitUntil(async () => (await cacheFiles()).length >= 2);
}

async function cacheFiles(): Promise<string[]> {
  const dir = join(partitionDir(fx.dataDir, stream, 0), "cache");
  try {
    return (await readdir(dir)).filter((n) => n.endsWith(".seg")).sort().map((n) => join(dir, n));
  } catch {
    return [];
  }
}

const crcChecks = (tier: CrcTier): number => fx.metrics().batchCrcChecks.get({ tier });

/** Every record in [from, to), checked by its `i` field. */
async function readRange(log: PartitionLog, from: number, to: number): Promise<void> {
  let offset = from;
  while (offset < to) {
    const got = await log.read(offset, { maxRecords: 50, maxBytes: 8 * KiB });
    expect(got.length).toBeGreaterThan(0);
    for (const r of got) {
      if (r.offset >= to) return;
      expect(r.offset).toBe(offset);
      expect(r.fields?.["i"]).toBe(offset);
      offset++;
    }
  }
}

/** The base offset of a cache file, from its name. */
const baseOf = (path: string): number => Number(path.slice(path.lastIndexOf("/") + 1, -".seg".length));

/**
 * Damages one byte of the local copy only: the local directory store hard-links uploaded files,
 * so the copy is rewritten as a new file (its own inode) rather than edited in place.
 */
async function damageLocalCopy(path: string, at: number): Promise<void> {
  const bytes = new Uint8Array(await readFile(path));
  bytes[at]! ^= 0x40;
  await writeFile(`${path}.damaged`, bytes);
  await rename(`${path}.damaged`, path);
}

test("a file is verified as the upload moves it into the cache; reads of it compute no CRC", async () => {
  const { log } = await openLog();
  await fillAndCache(log);
  expect(crcChecks("cache-entry")).toBeGreaterThan(0);
  const [first, second] = await cacheFiles();
  const hits = fx.metrics().cacheHits.get();
  const before = { entry: crcChecks("cache-entry"), firstRead: crcChecks("cache-first-read"), remote: crcChecks("object-store") };
  for (let round = 0; round < 3; round++) await readRange(log, baseOf(first!), baseOf(second!));
  expect(fx.metrics().cacheHits.get()).toBeGreaterThan(hits);
  expect(crcChecks("cache-first-read")).toBe(before.firstRead);
  expect(crcChecks("object-store")).toBe(before.remote);
  expect(crcChecks("cache-entry")).toBeGreaterThanOrEqual(before.entry); // later segments may still be entering
});

test("a file adopted at start-up is verified by its first read only", async () => {
  const first = await openLog();
  await fillAndCache(first.log);
  await first.store.close();
  const { log } = await openLog();
  const [file, next] = await cacheFiles();
  await readRange(log, baseOf(file!), baseOf(next!));
  const afterFirst = crcChecks("cache-first-read");
  expect(afterFirst).toBeGreaterThan(0);
  await readRange(log, baseOf(file!), baseOf(next!));
  expect(crcChecks("cache-first-read")).toBe(afterFirst);
  expect(fx.metrics().cacheFilesRefused.get()).toBe(0);
});

test("a cache file damaged before its first read is refused, dropped, and read from the object store", async () => {
  const first = await openLog();
  await fillAndCache(first.log);
  await first.store.close();
  const [damaged, next] = await cacheFiles();
  await damageLocalCopy(damaged!, 150); // inside the first batch's records
  const { log } = await openLog();
  await readRange(log, baseOf(damaged!), baseOf(next!)); // the right records, from the object store
  expect(fx.metrics().cacheFilesRefused.get()).toBe(1);
  expect(crcChecks("object-store")).toBeGreaterThan(0);
  expect(await cacheFiles()).not.toContain(damaged!);
  await readRange(log, baseOf(damaged!), baseOf(next!));
  expect(fx.metrics().cacheFilesRefused.get()).toBe(1);
  expect(fx.errors).toEqual([]);
});

test("reads of the active WAL check each batch once: later reads compute no CRC", async () => {
  const { log } = await openLog();
  for (let b = 0; b < 3; b++) await log.append(records(b * 5, 5, 100), meta(), "local");
  await readRange(log, 0, 15);
  const once = crcChecks("wal");
  expect(once).toBeGreaterThan(0);
  await readRange(log, 0, 15);
  expect(crcChecks("wal")).toBe(once);
  expect(fx.errors).toEqual([]);
});

test("a cache file read (mapped under Bun) and then evicted is read from the object store afterwards", async () => {
  const store = await fx.open({ ...SMALL, cacheBytes: 150 * KiB }); // about two 64 KiB segments
  await store.openPartitions(stream, 1, {});
  const log = store.partition(stream, 0);
  for (let b = 0; b < 20; b++) await log.append(records(b * 20, 20, 200), meta(), "local");
  await waitUntil(async () => (await cacheFiles()).length >= 1);
  const [first] = await cacheFiles();
  const firstEnd = await firstSegmentEnd();
  const hits = fx.metrics().cacheHits.get();
  await readRange(log, baseOf(first!), firstEnd);
  expect(fx.metrics().cacheHits.get()).toBeGreaterThan(hits);
  for (let b = 20; b < 80; b++) await log.append(records(b * 20, 20, 200), meta(), "local");
  await waitUntil(async () => !(await cacheFiles()).includes(first!));
  const remote = crcChecks("object-store");
  await readRange(log, baseOf(first!), firstEnd);
  expect(crcChecks("object-store")).toBeGreaterThan(remote);
  expect(fx.errors).toEqual([]);
});

/** The end offset of the first committed segment, from the catalog. */
async function firstSegmentEnd(): Promise<number> {
  const rows = await fx.database.db.select().from(segments).where(eq(segments.stream, stream)).orderBy(segments.baseOffset);
  expect(rows.length).toBeGreaterThan(0);
  return rows[0]!.endOffset;
}
