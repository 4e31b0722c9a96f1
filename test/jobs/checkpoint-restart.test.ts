// Checkpoints across restarts: a gateway process SIGKILLed with a checkpoint half committed
// keeps it open and completes it after the restart, with every rank's shard and state; a
// completion record that could not be published is published at the next start.
import { afterAll, expect, test } from "bun:test";
import { removeDir, startGateway, tempDir } from "../helpers/gateway.ts";
import { liveGateway } from "../helpers/in-process-gateway.ts";
import { call, commitPath, shardBytes, uploadShard } from "./job-fixture.ts";

/** Bound of a test that starts processes (slow on a loaded machine); no assertion depends on it. */
const PROCESS_TEST_MS = 60_000;
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

async function recordsOf(url: string, stream: string): Promise<any[]> {
  const answer = await call(url, "GET", `/v1/streams/${encodeURIComponent(stream)}/partitions/0/records?offset=0`);
  return answer.status === 404 ? [] : answer.body.records;
}

test("a SIGKILLed gateway keeps committed ranks and complete checkpoints; the restart completes the open one", async () => {
  const dataDir = tempDir("strata-jobs-kill-");
  dirs.push(dataDir);
  let gw = await startGateway({ dataDir });
  try {
    const shards: string[] = [];
    for (let rank = 0; rank < 4; rank++) shards.push(await uploadShard(gw.url, shardBytes(80_000, 200 + rank)));
    for (let rank = 0; rank < 4; rank++) expect((await call(gw.url, "PUT", commitPath("run", "a", rank), { artefact: shards[rank], world_size: 4, step: 1, state: { rank } })).status).toBe(200);
    for (const rank of [0, 1, 2]) expect((await call(gw.url, "PUT", commitPath("run", "b", rank), { artefact: shards[rank], world_size: 4, step: 2, state: { rank, next: 2 } })).body.complete).toBe(false);
    await gw.kill();
    gw = await startGateway({ dataDir });
    expect((await call(gw.url, "GET", "/v1/jobs/run/checkpoints/latest")).body.id).toBe("a");
    expect((await call(gw.url, "PUT", commitPath("run", "b", 1), { artefact: shards[1], world_size: 4, step: 2, state: { rank: 1, next: 2 } })).body).toMatchObject({ committed: 3, complete: false });
    expect((await call(gw.url, "PUT", commitPath("run", "b", 3), { artefact: shards[3], world_size: 4, step: 2, state: { rank: 3, next: 2 } })).body).toMatchObject({ committed: 4, complete: true });
    const latest = (await call(gw.url, "GET", "/v1/jobs/run/checkpoints/latest")).body;
    expect(latest).toMatchObject({ id: "b", step: 2, world_size: 4 });
    expect(latest.ranks).toEqual(shards.map((artefact, rank) => ({ rank, artefact, state: { rank, next: 2 } })));
    // Each rank's shard reads back whole.
    const shard2 = new Uint8Array(await (await fetch(`${gw.url}/v1/artefacts/${latest.ranks[2].artefact}`)).arrayBuffer());
    expect(Buffer.compare(shard2, shardBytes(80_000, 202))).toBe(0);
    expect((await recordsOf(gw.url, "jobs/run/checkpoints")).map((r) => r.fields.id)).toEqual(["a", "b"]);
  } finally {
    await gw.stop();
  }
}, PROCESS_TEST_MS);

test("a completion record that could not be published is published at the next start, once", async () => {
  const dataDir = tempDir("strata-jobs-republish-");
  dirs.push(dataDir);
  // A record bound below the completion record's size makes its publish fail after the commit.
  let gw = await liveGateway({ dataDir, limits: { maxRecordBytes: 1024 }, jobs: { sweepIntervalMs: 3_600_000 } });
  const state = { loader: "x".repeat(2000) };
  try {
    const shard = await uploadShard(gw.url, shardBytes(40_000, 300));
    expect((await call(gw.url, "PUT", commitPath("pub", "only", 0), { artefact: shard, world_size: 1, step: 5, state })).body.complete).toBe(true);
    expect((await call(gw.url, "GET", "/v1/jobs/pub/checkpoints/latest")).body.id).toBe("only");
    expect(await recordsOf(gw.url, "jobs/pub/checkpoints")).toEqual([]);
  } finally {
    await gw.close();
  }
  gw = await liveGateway({ dataDir });
  try {
    const published = await recordsOf(gw.url, "jobs/pub/checkpoints");
    expect(published.length).toBe(1);
    expect(published[0].fields).toMatchObject({ job: "pub", id: "only", step: 5, world_size: 1 });
    expect(published[0].fields.ranks[0].state).toEqual(state);
  } finally {
    await gw.close();
  }
  gw = await liveGateway({ dataDir });
  try {
    expect((await recordsOf(gw.url, "jobs/pub/checkpoints")).length).toBe(1);
    expect((await call(gw.url, "GET", "/v1/jobs/pub/checkpoints/latest")).body).toMatchObject({ id: "only", ranks: [{ rank: 0, state }] });
  } finally {
    await gw.close();
  }
}, PROCESS_TEST_MS);
