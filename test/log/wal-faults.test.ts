// I/O errors under the WAL, injected through its file-operation seam on a real WAL directory:
// EIO and ENOSPC on a write and on its sync, while pipelined group commits are in flight, and on
// the directory sync that seals a segment. Nothing after the failure is acknowledged and the
// other partition keeps working. EIO is final: the appends it hits are rejected with
// STORAGE_ERROR and the partition refuses appends until restart. ENOSPC (a short write whose
// rest fails, or a full disk found by the sync) is not: the appends are refused with
// INSUFFICIENT_STORAGE, the WAL is cut back to its synced end, and after a short pause the
// partition takes appends again at the next offset, without a restart. After a restart with the
// real file system every acknowledged record is there exactly once.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { isStrataError } from "../../core/errors.ts";
import { partitionDir } from "../../gateway/log/log-store.ts";
import { errnoCode } from "../../gateway/objects/errno.ts";
import type { PartitionLog } from "../../gateway/log/partition-log.ts";
import { FaultyWalIo, type FaultCode } from "./faulty-wal-io.ts";
import { makeFixture, meta, records, type Fixture } from "./log-fixture.ts";

const stream = "faults/s";
const PER_BATCH = 4;
/** Small groups, several in flight: a failure lands among pipelined writes. */
const PIPELINED = { groupCommitMs: 0, groupCommitBytes: 1024, groupCommitMaxBytes: 2048, walWritesInFlight: 4, maxBatchBytes: 8 * 1024 };

let fx: Fixture;
beforeEach(async () => {
  fx = await makeFixture();
  await fx.createStream(stream, 2);
});
afterEach(async () => {
  await fx.cleanup();
});

/** Every record's field `i`, reading from offset 0 and checking that offsets are dense. */
async function readIds(log: PartitionLog): Promise<number[]> {
  const ids: number[] = [];
  let offset = 0;
  while (offset < log.endOffset) {
    const got = await log.read(offset, { maxRecords: 1000, maxBytes: 1 << 20 });
    for (const r of got) {
      expect(r.offset).toBe(offset++);
      ids.push(r.fields?.["i"] as number);
    }
  }
  return ids;
}

/** Appends records from `from` until the partition accepts them (after a full disk's pause), collecting the refusals. */
async function appendOnceAccepted(log: PartitionLog, from: number, acks: "local" | "durable" = "local"): Promise<{ baseOffset: number; refusals: unknown[] }> {
  const refusals: unknown[] = [];
  for (;;) {
    try {
      const { baseOffset } = await log.append(records(from, PER_BATCH), meta(), acks);
      return { baseOffset, refusals };
    } catch (e) {
      refusals.push(e);
      if (!isStrataError(e) || e.code !== "INSUFFICIENT_STORAGE") throw e;
      await new Promise((resolve) => setTimeout(resolve, 20)); // polling the condition, not timing it
    }
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, k) => from + k);
}

for (const op of ["write", "sync"] as const) {
  for (const code of ["EIO", "ENOSPC"] as const satisfies readonly FaultCode[]) {
    test(`${code} on a WAL ${op} among pipelined group commits`, async () => {
      const io = new FaultyWalIo();
      const store = await fx.open(PIPELINED, { walIo: io });
      await store.openPartitions(stream, 2, {});
      const failing = store.partition(stream, 0);
      const healthy = store.partition(stream, 1);
      let next = 0;
      for (let b = 0; b < 5; b++, next += PER_BATCH) {
        expect((await failing.append(records(next, PER_BATCH), meta(), "local")).baseOffset).toBe(next);
      }

      // The third group write from now fails; two are acknowledged before it, more are in flight behind it.
      const dir = partitionDir(fx.dataDir, stream, 0);
      io.arm({ op, code, where: (path) => path.startsWith(dir), skip: 2 });
      const attempts = await Promise.all(
        Array.from({ length: 24 }, (_, k) => {
          const from = next + k * PER_BATCH;
          return failing.append(records(from, PER_BATCH), meta(), "local").then(
            (r) => ({ from, baseOffset: r.baseOffset, error: undefined }),
            (error: unknown) => ({ from, baseOffset: undefined, error }),
          );
        }),
      );
      expect(io.fired).toHaveLength(1);
      const acked = attempts.filter((a) => a.error === undefined);
      const rejected = attempts.filter((a) => a.error !== undefined);
      expect(acked.length).toBeGreaterThan(0);
      expect(rejected.length).toBeGreaterThan(0);
      for (const a of acked) expect(a.baseOffset).toBe(a.from);
      const refusal = code === "ENOSPC" ? "INSUFFICIENT_STORAGE" : "STORAGE_ERROR";
      for (const r of rejected) expect(isStrataError(r.error) && r.error.code).toBe(refusal);
      // Nothing after the failure is acknowledged: the acknowledged appends are a prefix.
      const firstRejected = Math.min(...rejected.map((r) => r.from));
      for (const a of acked) expect(a.from).toBeLessThan(firstRejected);
      // Readers see exactly what was acknowledged.
      const ackedEnd = firstRejected;
      expect(failing.endOffset).toBe(ackedEnd);
      expect(await readIds(failing)).toEqual(range(0, ackedEnd));
      // The failure reached the background-error channel with the injected cause.
      expect(fx.errors.map(errnoCode)).toContain(code);

      // The other partition is unaffected.
      expect((await healthy.append(records(0, PER_BATCH), meta(), "local")).baseOffset).toBe(0);
      expect(await readIds(healthy)).toEqual(range(0, PER_BATCH));
      let resumedEnd = ackedEnd;
      if (code === "EIO") {
        // The partition refuses appends until restart.
        await expect(failing.append(records(10_000, 1), meta(), "local")).rejects.toMatchObject({ code: "STORAGE_ERROR" });
      } else {
        // Refused for a moment (nothing written, no offset taken), then the partition takes appends again.
        const resumed = await appendOnceAccepted(failing, ackedEnd);
        expect(resumed.refusals.every((e) => isStrataError(e) && e.code === "INSUFFICIENT_STORAGE")).toBe(true);
        expect(resumed.baseOffset).toBe(ackedEnd);
        resumedEnd = ackedEnd + PER_BATCH;
        expect(failing.endOffset).toBe(resumedEnd);
        expect(await readIds(failing)).toEqual(range(0, resumedEnd));
      }
      await store.close();

      // Restart on the real file system: every acknowledged record is there exactly once.
      const healed = await fx.open(PIPELINED);
      const recovered = healed.partition(stream, 0);
      const ids = await readIds(recovered);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.slice(0, resumedEnd)).toEqual(range(0, resumedEnd));
      if (op === "write" || code === "ENOSPC") {
        // The failed write left a hole or a torn batch, or the reset cut it: nothing unacknowledged is back.
        expect(recovered.endOffset).toBe(resumedEnd);
      } else {
        // The bytes whose sync failed may well be on disk: they come back (never acknowledged, never twice).
        expect(recovered.endOffset).toBeGreaterThanOrEqual(ackedEnd);
        expect(ids).toEqual(range(0, recovered.endOffset));
      }
      const end = recovered.endOffset;
      expect((await recovered.append(records(end, PER_BATCH), meta(), "local")).baseOffset).toBe(end);
      expect(await readIds(healed.partition(stream, 1))).toEqual(range(0, PER_BATCH));
    });
  }
}

test("EIO on the directory sync that seals a segment: the partition fails, and the sealed segment is uploaded after restart", async () => {
  const limits = { maxBatchBytes: 8 * 1024, segmentBytes: 16 * 1024 };
  const io = new FaultyWalIo();
  const dir = partitionDir(fx.dataDir, stream, 0);
  const store = await fx.open(limits, { walIo: io });
  await store.openPartitions(stream, 2, {});
  const log = store.partition(stream, 0);
  io.arm({ op: "sync", code: "EIO", where: (path) => path === dir });
  let acked = 0;
  let failure: unknown;
  while (failure === undefined) {
    try {
      expect((await log.append(records(acked, PER_BATCH, 400), meta(), "local")).baseOffset).toBe(acked);
      acked += PER_BATCH;
    } catch (e) {
      failure = e;
    }
  }
  expect(failure).toMatchObject({ code: "STORAGE_ERROR" });
  expect(io.fired).toEqual([{ op: "sync", code: "EIO", path: dir }]);
  expect(acked * 400).toBeGreaterThan(limits.segmentBytes / 2); // it failed at a roll, not at once
  await expect(log.append(records(acked, 1), meta(), "local")).rejects.toMatchObject({ code: "STORAGE_ERROR" });
  expect((await store.partition(stream, 1).append(records(0, 1), meta(), "local")).baseOffset).toBe(0);
  await store.close();

  const healed = await fx.open(limits);
  const recovered = healed.partition(stream, 0);
  expect(await readIds(recovered)).toEqual(range(0, acked));
  await recovered.flushToObjectStore();
  expect(recovered.durableEndOffset).toBe(acked);
  expect((await recovered.append(records(acked, 1), meta(), "local")).baseOffset).toBe(acked);
});

test("ENOSPC on the footer write that seals a segment: durable appends are refused, then the partition seals and takes appends again without a restart", async () => {
  const io = new FaultyWalIo();
  const dir = partitionDir(fx.dataDir, stream, 0);
  const store = await fx.open({}, { walIo: io });
  await store.openPartitions(stream, 2, {});
  const log = store.partition(stream, 0);
  expect((await log.append(records(0, PER_BATCH), meta(), "durable")).baseOffset).toBe(0);
  // A durable append writes its group, then seals: the group write succeeds, the footer finds the disk full.
  io.arm({ op: "write", code: "ENOSPC", where: (path) => path.startsWith(dir), skip: 1 });
  await expect(log.append(records(PER_BATCH, PER_BATCH), meta(), "durable")).rejects.toMatchObject({ code: "INSUFFICIENT_STORAGE" });
  expect(io.fired).toEqual([{ op: "write", code: "ENOSPC", path: expect.stringMatching(/\.wal$/) }]);
  // Its records were synced before the seal failed: readable, never lost.
  expect(log.endOffset).toBe(2 * PER_BATCH);
  expect(await readIds(log)).toEqual(range(0, 2 * PER_BATCH));

  // After the pause, the next durable append seals both batches into a segment.
  const resumed = await appendOnceAccepted(log, 2 * PER_BATCH, "durable");
  expect(resumed.baseOffset).toBe(2 * PER_BATCH);
  expect(log.durableEndOffset).toBe(3 * PER_BATCH);
  await store.close();

  const healed = await fx.open({});
  expect(await readIds(healed.partition(stream, 0))).toEqual(range(0, 3 * PER_BATCH));
});

test("short writes among pipelined group commits: the rest is written, every append is acknowledged and survives a restart", async () => {
  const io = new FaultyWalIo();
  const dir = partitionDir(fx.dataDir, stream, 0);
  const store = await fx.open(PIPELINED, { walIo: io });
  await store.openPartitions(stream, 2, {});
  const log = store.partition(stream, 0);
  for (let k = 0; k < 6; k++) io.arm({ op: "write", code: "SHORT", where: (path) => path.startsWith(dir), skip: k });
  const appended = await Promise.all(Array.from({ length: 24 }, (_, k) => log.append(records(k * PER_BATCH, PER_BATCH), meta(), "local")));
  expect(appended.map((a) => a.baseOffset)).toEqual(Array.from({ length: 24 }, (_, k) => k * PER_BATCH));
  expect(io.fired.length).toBeGreaterThan(0);
  expect(io.fired.every((f) => f.code === "SHORT")).toBe(true);
  expect(await readIds(log)).toEqual(range(0, 24 * PER_BATCH));
  await store.close();

  const healed = await fx.open(PIPELINED);
  expect(await readIds(healed.partition(stream, 0))).toEqual(range(0, 24 * PER_BATCH));
});
