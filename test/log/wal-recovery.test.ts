// Torn writes in the WAL: whatever damage a crash can leave at the end of the file, every whole
// batch before it survives, the damaged tail is cut off the file, and appends continue at the
// right offset.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { appendFile, readdir, readFile, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { partitionDir } from "../../gateway/log/log-store.ts";
import { makeFixture, meta, records, type Fixture } from "./log-fixture.ts";

const BATCHES = 10;
const PER_BATCH = 5;
let fx: Fixture;
let walPath: string;
let batchBytes: number;

beforeEach(async () => {
  fx = await makeFixture();
  await fx.createStream("wal/t");
  const store = await fx.open();
  await store.openPartitions("wal/t", 1, {});
  const log = store.partition("wal/t", 0);
  for (let b = 0; b < BATCHES; b++) await log.append(records(b * PER_BATCH, PER_BATCH), meta(), "local");
  await store.close();
  const dir = partitionDir(fx.dataDir, "wal/t", 0);
  const wals = (await readdir(dir)).filter((n) => n.endsWith(".wal"));
  expect(wals).toEqual(["00000000000000000000.wal"]);
  walPath = join(dir, wals[0]!);
  const size = (await stat(walPath)).size;
  batchBytes = size / BATCHES;
  expect(Number.isInteger(batchBytes)).toBe(true); // equal-size batches: positions are known
});
afterEach(async () => {
  await fx.cleanup();
});

async function reopenAndCheck(survivingBatches: number): Promise<void> {
  const store = await fx.open();
  const log = store.partition("wal/t", 0);
  expect(fx.metrics().walTornBytes.get()).toBeGreaterThan(0);
  const survived = survivingBatches * PER_BATCH;
  expect(log.endOffset).toBe(survived);
  expect((await stat(walPath)).size).toBe(survivingBatches * batchBytes); // the tail is cut from the file
  const got = await log.read(0, { maxRecords: 1000, maxBytes: 1 << 20 });
  expect(got.map((r) => r.fields?.["i"])).toEqual(Array.from({ length: survived }, (_, i) => i));
  // Appends continue right after the last whole batch.
  const { baseOffset } = await log.append(records(survived, 2), meta(), "local");
  expect(baseOffset).toBe(survived);
  await store.close();
  const again = await fx.open();
  const all = await again.partition("wal/t", 0).read(0, { maxRecords: 1000, maxBytes: 1 << 20 });
  expect(all.map((r) => r.offset)).toEqual(Array.from({ length: survived + 2 }, (_, i) => i));
}

test("a file cut in the middle of the last batch loses only that batch", async () => {
  await truncate(walPath, 9 * batchBytes + Math.floor(batchBytes / 2));
  await reopenAndCheck(9);
});

test("a file cut inside the last batch's header loses only that batch", async () => {
  await truncate(walPath, 9 * batchBytes + 10);
  await reopenAndCheck(9);
});

test("a flipped byte in the last batch cuts it at the bad CRC", async () => {
  const bytes = await readFile(walPath);
  bytes[9 * batchBytes + 100]! ^= 0xff;
  await writeFile(walPath, bytes);
  await reopenAndCheck(9);
});

test("a flipped byte in a middle batch cuts the log at the first bad CRC", async () => {
  const bytes = await readFile(walPath);
  bytes[4 * batchBytes + 70]! ^= 0x01;
  await writeFile(walPath, bytes);
  await reopenAndCheck(4);
});

test("garbage appended after the last batch is cut, every batch survives", async () => {
  await appendFile(walPath, crypto.getRandomValues(new Uint8Array(777)));
  await reopenAndCheck(10);
});

test("a plausible header with an oversized length is cut", async () => {
  const fake = new Uint8Array(64);
  const view = new DataView(fake.buffer);
  view.setUint32(0, 0x42525453, true); // batch magic
  view.setUint32(4, 0x7fff_ffff, true);
  await appendFile(walPath, fake);
  await reopenAndCheck(10);
});

test("zeroed tail (pre-allocated blocks after a crash) is cut", async () => {
  await appendFile(walPath, new Uint8Array(4096));
  await reopenAndCheck(10);
});

test("lowering maxBatchBytes below stored batches cuts nothing: stored batches are bounded by their file", async () => {
  // Every batch of the fixture is batchBytes long; reopen with a publish limit below that.
  const lowered = Math.floor(batchBytes / 2);
  const store = await fx.open({ maxBatchBytes: lowered });
  const log = store.partition("wal/t", 0);
  expect(fx.metrics().walTornBytes.get()).toBe(0);
  expect(log.endOffset).toBe(BATCHES * PER_BATCH);
  expect((await stat(walPath)).size).toBe(BATCHES * batchBytes);
  const got = await log.read(0, { maxRecords: 1000, maxBytes: 1 << 20 });
  expect(got.map((r) => r.fields?.["i"])).toEqual(Array.from({ length: BATCHES * PER_BATCH }, (_, i) => i));
  // The lowered limit still applies to new batches.
  await expect(log.append(records(BATCHES * PER_BATCH, PER_BATCH), meta(), "local")).rejects.toMatchObject({ code: "BATCH_TOO_LARGE" });
  await store.close();
});
