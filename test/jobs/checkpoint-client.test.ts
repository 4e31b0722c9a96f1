// The client library's checkpoint functions against a live gateway: saveCheckpoint uploads and
// commits each rank's shard, loadCheckpoint reads back the newest (or a named) checkpoint's
// shard and state, a second save of shards changed by 5 % moves only the chunks over the change, and refusals arrive
// as StrataErrors with the gateway's code.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { StrataError } from "../../core/errors.ts";
import { latestCheckpoint, listCheckpoints, loadCheckpoint, saveCheckpoint, setJobKeep } from "../../gateway/client.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { shardBytes } from "./job-fixture.ts";

const SHARD = 2 * 1024 * 1024;
let gw: LiveGateway;

beforeAll(async () => {
  gw = await liveGateway();
});
afterAll(async () => {
  await gw?.close();
});

async function refusal(run: () => Promise<unknown>): Promise<StrataError> {
  try {
    await run();
  } catch (e) {
    if (e instanceof StrataError) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

test("save and load every rank's shard and state; a 5 % change moves only the chunks over it", async () => {
  expect(await setJobKeep(gw.url, "client", 2)).toEqual({ job: "client", keep: 2 });
  const first = [0, 1, 2, 3].map((rank) => shardBytes(SHARD, 500 + rank));
  for (const [rank, data] of first.entries()) {
    const saved = await saveCheckpoint(gw.url, { job: "client", id: "step-1", rank, worldSize: 4, step: 1, data, state: { rank, position: 1 } });
    expect(saved.commit).toMatchObject({ rank, committed: rank + 1, complete: rank === 3 });
    expect(saved.upload.new_bytes).toBe(SHARD);
  }
  for (const rank of [0, 1, 2, 3]) {
    const loaded = await loadCheckpoint(gw.url, { job: "client", rank });
    expect(loaded.meta.id).toBe("step-1");
    expect(loaded.rank.state).toEqual({ rank, position: 1 });
    expect(Buffer.compare(loaded.data, first[rank]!)).toBe(0);
  }

  // Each shard changes in one contiguous 5 % region: only the chunks over it move.
  let moved = 0;
  const second = first.map((shard, rank) => {
    const changed = shard.slice();
    changed.set(shardBytes(SHARD / 20, 600 + rank), SHARD / 2);
    return changed;
  });
  for (const [rank, data] of second.entries()) moved += (await saveCheckpoint(gw.url, { job: "client", id: "step-2", rank, worldSize: 4, step: 2, data, state: { rank, position: 2 } })).upload.new_bytes;
  // At most the changed bytes plus the chunk (up to 256 KiB) cut by each end of the region.
  expect(moved).toBeGreaterThanOrEqual(4 * (SHARD / 20));
  expect(moved).toBeLessThanOrEqual(4 * (SHARD / 20 + 2 * 256 * 1024));
  const latest = await loadCheckpoint(gw.url, { job: "client", rank: 2 });
  expect(latest.meta.id).toBe("step-2");
  expect(Buffer.compare(latest.data, second[2]!)).toBe(0);
  const older = await loadCheckpoint(gw.url, { job: "client", rank: 2, id: "step-1" });
  expect(Buffer.compare(older.data, first[2]!)).toBe(0);
  expect((await listCheckpoints(gw.url, "client")).map((c) => c.id)).toEqual(["step-2", "step-1"]);
  expect((await latestCheckpoint(gw.url, "client")).ranks.map((r) => r.rank)).toEqual([0, 1, 2, 3]);
});

test("refusals are StrataErrors with the gateway's code", async () => {
  expect((await refusal(() => loadCheckpoint(gw.url, { job: "nothing-here", rank: 0 }))).code).toBe("NOT_FOUND");
  expect((await refusal(() => loadCheckpoint(gw.url, { job: "client", rank: 9 }))).code).toBe("NOT_FOUND");
  const conflict = await refusal(() => saveCheckpoint(gw.url, { job: "client", id: "step-2", rank: 0, worldSize: 4, step: 3, data: shardBytes(1000, 1) }));
  expect(conflict.code).toBe("CHECKPOINT_CONFLICT");
  expect((await refusal(() => setJobKeep(gw.url, "client", 0))).code).toBe("BAD_REQUEST");
});
