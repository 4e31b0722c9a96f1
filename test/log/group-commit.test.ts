// The group commit's states, driven over a real WAL file: idle, lingering, writing(n) bounded by
// walWritesInFlight, rolling when the next batch does not fit, failed on a write error, closed.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeBatch, readBatchHeader } from "../../core/log/batch.ts";
import { GroupCommit, type QueuedAppend } from "../../gateway/log/group-commit.ts";
import { resolveLimits, type StorageLimits } from "../../gateway/log/storage-limits.ts";
import { WalFile } from "../../gateway/log/wal.ts";
import type { WalIo } from "../../gateway/log/wal-io.ts";
import { nodeWalIo } from "../../gateway/log/wal-io.ts";
import { FaultyWalIo } from "./faulty-wal-io.ts";
import { records } from "./log-fixture.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "strata-group-commit-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A group commit over a fresh WAL in `dir`, rolling into new WAL files; counts what happens. */
async function harness(overrides: Partial<StorageLimits>, io: WalIo = nodeWalIo) {
  const limits = resolveLimits(overrides);
  let wal = await WalFile.create(io, dir, 0, limits.indexIntervalBytes);
  const seen = { rolls: 0, syncedGroups: 0, failures: 0 };
  let next = 0;
  const commit = new GroupCommit(limits, "test partition", {
    wal: () => wal,
    roll: async () => {
      const sealed = await wal.seal();
      wal = await WalFile.create(io, dir, sealed.endOffset, limits.indexIntervalBytes);
      seen.rolls++;
    },
    synced: () => void seen.syncedGroups++,
    failed: () => void seen.failures++,
  });
  /** Queues a batch of `count` ~`size`-byte records at the next offsets. */
  const append = (count = 2, size = 100): Promise<void> => {
    const bytes = encodeBatch(records(next, count, size), { baseOffset: next, firstTimestamp: 1, maxTimestamp: 1, producer: null });
    const header = readBatchHeader(bytes);
    if (!header) throw new Error("a whole batch has a header");
    const queued: QueuedAppend = { batch: { bytes, baseOffset: next, count, firstTimestamp: 1, maxTimestamp: 1 }, header, producer: null };
    next += count;
    return commit.enqueue(queued);
  };
  return { commit, append, seen, wal: () => wal };
}

test("idle → lingering → (close) written → closed", async () => {
  const { commit, append, wal } = await harness({ groupCommitMs: 60_000, groupCommitBytes: 1024 * 1024 });
  expect(commit.state).toEqual({ kind: "idle" });
  const a = append();
  const b = append();
  expect(commit.state.kind).toBe("lingering");
  expect(commit.unsyncedBytes).toBeGreaterThan(0);
  // An empty WAL has nothing to seal: a roll request changes nothing.
  commit.requestRoll();
  expect(commit.state.kind).toBe("lingering");
  await commit.close();
  await Promise.all([a, b]);
  expect(commit.state).toEqual({ kind: "closed" });
  expect(commit.unsyncedBytes).toBe(0);
  expect(wal().endOffset).toBe(4);
  await wal().close();
});

test("queued bytes past groupCommitBytes are written at once; writes in flight never exceed walWritesInFlight", async () => {
  const { commit, append, seen, wal } = await harness({ groupCommitMs: 60_000, groupCommitBytes: 1024, groupCommitMaxBytes: 1024, walWritesInFlight: 2 });
  const appends = Array.from({ length: 12 }, () => append(2, 400));
  const state = commit.state;
  expect(state.kind).toBe("writing");
  if (state.kind === "writing") expect(state.inFlight).toBe(2);
  await Promise.all(appends.slice(0, 10));
  expect(seen.syncedGroups).toBeGreaterThanOrEqual(2);
  await commit.close();
  await Promise.all(appends);
  expect(wal().endOffset).toBe(24);
  await wal().close();
});

test("a batch that does not fit the active segment rolls it first, with no write in flight", async () => {
  const { commit, append, seen, wal } = await harness({ groupCommitMs: 0, maxBatchBytes: 4096, segmentBytes: 4096 });
  for (let k = 0; k < 12; k++) await append(2, 400);
  expect(seen.rolls).toBeGreaterThan(0);
  expect(wal().baseOffset).toBeGreaterThan(0);
  expect(wal().size).toBeLessThanOrEqual(4096);
  // Asked to roll when idle with data: rolling at once, idle again after.
  commit.requestRoll();
  expect(commit.state.kind).toBe("rolling");
  const rolls = seen.rolls;
  await commit.close();
  expect(seen.rolls).toBe(rolls + 1);
  expect(wal().isEmpty).toBe(true);
  expect(commit.state).toEqual({ kind: "closed" });
  await wal().close();
});

test("a failed write moves to failed: its group and everything after it are rejected, later appends too", async () => {
  const io = new FaultyWalIo();
  const { commit, append, seen, wal } = await harness({ groupCommitMs: 0, walWritesInFlight: 2 }, io);
  await append();
  io.arm({ op: "write", code: "EIO", where: (path) => path.startsWith(dir) });
  const results = await Promise.allSettled([append(), append(), append()]);
  expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
  const state = commit.state;
  expect(state.kind).toBe("failed");
  if (state.kind === "failed") expect(state.error.code).toBe("STORAGE_ERROR");
  expect(seen.failures).toBe(1);
  await expect(append()).rejects.toMatchObject({ code: "STORAGE_ERROR" });
  expect(wal().endOffset).toBe(2);
  await commit.close();
  expect(commit.state.kind).toBe("failed");
  await wal().close();
});
