// Unfinished uploads are finished at start: segments sealed while the object store was failing,
// a crash between sealing and starting the next WAL, and a crash between commit and cache move.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import { segments } from "../../gateway/db/schema.ts";
import { LocalObjectStore } from "../../gateway/objects/local-object-store.ts";
import { partitionDir } from "../../gateway/log/log-store.ts";
import { makeFixture, meta, records, type Fixture } from "./log-fixture.ts";
import { waitUntil } from "./segment-tiers.contract.ts";

const SMALL = { maxBatchBytes: 16 * 1024, segmentBytes: 64 * 1024, memoryTailBytes: 1 };
const stream = "up/s";
let fx: Fixture;
beforeEach(async () => {
  fx = await makeFixture();
  await fx.createStream(stream);
});
afterEach(async () => {
  await fx.cleanup();
});

const rows = () =>
  fx.database.db.select().from(segments).where(and(eq(segments.stream, stream), eq(segments.partition, 0))).orderBy(segments.baseOffset);

async function readIs(log: { read: (o: number, opts: { maxRecords: number; maxBytes: number }) => Promise<{ offset: number; fields: Record<string, unknown> | null }[]>; endOffset: number }, n: number) {
  const seen: number[] = [];
  let offset = 0;
  while (offset < log.endOffset) {
    const got = await log.read(offset, { maxRecords: 1000, maxBytes: 1 << 20 });
    for (const r of got) seen.push(r.fields?.["i"] as number);
    offset = got.at(-1)!.offset + 1;
  }
  expect(seen).toEqual(Array.from({ length: n }, (_, i) => i));
}

test("segments sealed while the object store fails are uploaded and committed at the next start", async () => {
  // A real local store whose root is then replaced by a plain file: every put fails.
  const brokenRoot = join(fx.dir, "broken-objects");
  const broken = await LocalObjectStore.open(brokenRoot);
  await rm(brokenRoot, { recursive: true });
  await writeFile(brokenRoot, "not a directory");
  const store = await fx.open(SMALL, { objectStore: broken });
  await store.openPartitions(stream, 1, {});
  const log = store.partition(stream, 0);
  let n = 0;
  for (let b = 0; b < 50; b++, n += 20) await log.append(records(n, 20, 200), meta(), "local");
  await waitUntil(() => fx.errors.length > 0);
  await expect(log.append(records(n, 1), meta(), "durable")).rejects.toMatchObject({ code: "STORAGE_ERROR" });
  n += 1;
  expect(log.durableEndOffset).toBe(0);
  await store.close();
  const dir = partitionDir(fx.dataDir, stream, 0);
  const sealed = (await readdir(dir)).filter((f) => f.endsWith(".seg"));
  expect(sealed.length).toBeGreaterThan(1);
  expect(await rows()).toEqual([]);

  const healed = await fx.open(SMALL);
  const log2 = healed.partition(stream, 0);
  expect(log2.endOffset).toBe(n);
  await waitUntil(async () => (await rows()).length === sealed.length);
  for (const row of await rows()) expect((await fx.objectStore.head(row.objectKey))?.size).toBe(row.bytes);
  expect((await readdir(dir)).filter((f) => f.endsWith(".seg"))).toEqual([]);
  await rm(join(dir, "cache"), { recursive: true, force: true });
  await readIs(log2, n);
}, 30_000);

test("a crash between sealing a WAL and creating the next: the older WAL is sealed and uploaded at start", async () => {
  const store = await fx.open(SMALL);
  await store.openPartitions(stream, 1, {});
  const log = store.partition(stream, 0);
  for (let b = 0; b < 3; b++) await log.append(records(b * 10, 10, 200), meta(), "local");
  await store.close();
  const dir = partitionDir(fx.dataDir, stream, 0);
  // The state a crash mid-roll leaves: the next WAL already created (empty), the old one not yet renamed.
  await writeFile(join(dir, `${String(30).padStart(20, "0")}.wal`), new Uint8Array(0));
  const again = await fx.open(SMALL);
  const log2 = again.partition(stream, 0);
  expect(log2.endOffset).toBe(30);
  await waitUntil(() => log2.durableEndOffset === 30);
  expect((await rows()).map((r) => [r.baseOffset, r.endOffset])).toEqual([[0, 30]]);
  expect((await log2.append(records(30, 1), meta(), "local")).baseOffset).toBe(30);
  await readIs(log2, 31);
});

test("a crash between commit and the move to cache: the committed file is adopted, not uploaded twice", async () => {
  const store = await fx.open(SMALL);
  await store.openPartitions(stream, 1, {});
  const log = store.partition(stream, 0);
  for (let b = 0; b < 3; b++) await log.append(records(b * 10, 10, 200), meta(), "local");
  await log.flushToObjectStore();
  await store.close();
  const dir = partitionDir(fx.dataDir, stream, 0);
  const name = `${String(0).padStart(20, "0")}.seg`;
  await rename(join(dir, "cache", name), join(dir, name));
  const before = await rows();
  const again = await fx.open(SMALL);
  expect(await readdir(join(dir, "cache"))).toEqual([name]);
  expect(await rows()).toEqual(before);
  expect(again.cacheUsage().files).toBe(1);
  await readIs(again.partition(stream, 0), 30);
});
