// The group commit's states, driven over a real WAL file: idle, writing at once when idle,
// writing(n) bounded by walWritesInFlight with appends queued behind a write going out together,
// rolling when the next batch does not fit, failed on a write error, closed.
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
  const seen = { rolls: 0, syncedGroups: 0, failures: 0, groupSizes: [] as number[] };
  let next = 0;
  const commit = new GroupCommit(limits, "test partition", {
    wal: () => wal,
    roll: async () => {
      const sealed = await wal.seal();
      wal = await WalFile.create(io, dir, sealed.endOffset, limits.indexIntervalBytes);
      seen.rolls++;
    },
    synced: (group) => {
      seen.syncedGroups++;
      seen.groupSizes.push(group.length);
    },
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

test("an append to an idle WAL is written at once, however long groupCommitMs is", async () => {
  const { commit, append, seen, wal } = await harness({ groupCommitMs: 60_000, groupCommitBytes: 1024 * 1024 });
  expect(commit.state).toEqual({ kind: "idle" });
  const a = append();
  expect(commit.state).toEqual({ kind: "writing", inFlight: 1, rollWanted: false, lingerUntil: undefined });
  expect(commit.unsyncedBytes).toBeGreaterThan(0);
  await a; // a linger would hold this for a minute
  expect(commit.state).toEqual({ kind: "idle" });
  expect(commit.unsyncedBytes).toBe(0);
  await append();
  expect(seen.groupSizes).toEqual([1, 1]);
  await commit.close();
  expect(commit.state).toEqual({ kind: "closed" });
  expect(wal().endOffset).toBe(4);
  await wal().close();
});

test("appends arriving while a write is in flight go out together as one group once it completes", async () => {
  const { commit, append, seen, wal } = await harness({ groupCommitMs: 60_000, groupCommitBytes: 1024 * 1024, walWritesInFlight: 1 });
  const acked: number[] = [];
  const track = (k: number, p: Promise<void>): Promise<void> => p.then(() => void acked.push(k));
  const first = track(0, append());
  // The first write is in flight until this synchronous code yields: these five queue behind it.
  const rest = [1, 2, 3, 4, 5].map((k) => track(k, append()));
  expect(commit.state).toEqual({ kind: "writing", inFlight: 1, rollWanted: false, lingerUntil: undefined });
  await Promise.all([first, ...rest]);
  expect(seen.groupSizes).toEqual([1, 5]);
  expect(acked).toEqual([0, 1, 2, 3, 4, 5]);
  expect(commit.state).toEqual({ kind: "idle" });
  await commit.close();
  expect(wal().endOffset).toBe(12);
  await wal().close();
});

test("with a write slot free, appends queued beside a write in flight wait at most groupCommitMs", async () => {
  const { commit, append, seen, wal } = await harness({ groupCommitMs: 40, groupCommitBytes: 1024 * 1024, walWritesInFlight: 2 });
  const a = append();
  const before = performance.now();
  const b = append();
  const state = commit.state;
  expect(state.kind).toBe("writing");
  if (state.kind === "writing") {
    expect(state.inFlight).toBe(1);
    // Due groupCommitMs after it was queued at the latest, sooner if the write in flight completes.
    expect(state.lingerUntil).toBeGreaterThanOrEqual(before);
    expect(state.lingerUntil).toBeLessThanOrEqual(performance.now() + 40);
  }
  await Promise.all([a, b]);
  expect(seen.groupSizes).toEqual([1, 1]);
  await commit.close();
  await wal().close();
});

test("groupCommitMs 0 with a write slot free: the next write starts beside the one in flight at once", async () => {
  const { commit, append, wal } = await harness({ groupCommitMs: 0, walWritesInFlight: 2 });
  const c = append();
  const d = append();
  expect(commit.state).toEqual({ kind: "writing", inFlight: 2, rollWanted: false, lingerUntil: undefined });
  await Promise.all([c, d]);
  await commit.close();
  await wal().close();
});

test("under load: acknowledgements in enqueue order, far fewer groups than appends, across rolls", async () => {
  const { commit, append, seen, wal } = await harness({
    groupCommitMs: 1,
    groupCommitBytes: 4096,
    groupCommitMaxBytes: 8192,
    walWritesInFlight: 3,
    maxBatchBytes: 8192,
    segmentBytes: 32 * 1024,
  });
  const acked: number[] = [];
  const appends: Promise<void>[] = [];
  for (let wave = 0; wave < 10; wave++) {
    for (let k = 0; k < 30; k++) {
      const n = appends.length;
      appends.push(append(1 + (n % 3), 50 + ((n * 37) % 400)).then(() => void acked.push(n)));
    }
    await Promise.resolve(); // let a few writes complete between waves now and then
  }
  await Promise.all(appends);
  expect(acked).toEqual(appends.map((_, n) => n));
  expect(seen.groupSizes.reduce((a, b) => a + b, 0)).toBe(300);
  expect(seen.syncedGroups).toBeLessThan(300 / 2);
  expect(seen.rolls).toBeGreaterThan(0);
  expect(commit.unsyncedBytes).toBe(0);
  await commit.close();
  expect(wal().endOffset).toBe(appends.reduce((sum, _, n) => sum + 1 + (n % 3), 0));
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
