// The life of checkpoints against live gateways: an incomplete one is aborted after the timeout
// (its id then refused), keep N releases the older complete ones and artefact GC collects a
// released shard no one else uses while kept and open ones stay readable.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { call, commitPath, shardBytes, uploadShard, waitFor } from "./job-fixture.ts";

let gw: LiveGateway;

beforeAll(async () => {
  gw = await liveGateway({ artefacts: { gcGraceMs: 0, gcRewriteMinDeadFraction: 0, gcIntervalMs: 0 }, jobs: { checkpointTimeoutMs: 300, sweepIntervalMs: 25 } });
});
afterAll(async () => {
  await gw?.close();
});

async function readArtefact(id: string): Promise<{ status: number; bytes: Uint8Array }> {
  const response = await fetch(`${gw.url}/v1/artefacts/${id}`);
  return { status: response.status, bytes: new Uint8Array(await response.arrayBuffer()) };
}

test("an incomplete checkpoint is aborted after the timeout, and its id is refused", async () => {
  const shard = await uploadShard(gw.url, shardBytes(50_000, 90));
  expect((await call(gw.url, "PUT", commitPath("slow", "c1", 0), { artefact: shard, world_size: 2, step: 1 })).status).toBe(200);
  expect(gw.gateway.services.jobs.heldManifests().has(shard)).toBe(true);
  await waitFor(() => !gw.gateway.services.jobs.heldManifests().has(shard), "the open checkpoint to be aborted");
  const late = await call(gw.url, "PUT", commitPath("slow", "c1", 1), { artefact: shard, world_size: 2, step: 1 });
  expect(late.status).toBe(409);
  expect(late.body.error).toMatchObject({ code: "CHECKPOINT_CONFLICT" });
  expect(late.body.error.message).toContain("was aborted");
  expect((await call(gw.url, "GET", "/v1/jobs/slow/checkpoints")).body.checkpoints).toEqual([]);
  // A new id starts afresh.
  expect((await call(gw.url, "PUT", commitPath("slow", "c2", 0), { artefact: shard, world_size: 1, step: 1 })).body).toMatchObject({ complete: true });
});

test("keep N releases older checkpoints; GC then collects an unshared released shard, kept and open ones stay readable", async () => {
  expect((await call(gw.url, "PUT", "/v1/jobs/keeper", { keep: 2 })).body).toEqual({ job: "keeper", keep: 2 });
  const shared = shardBytes(150_000, 100);
  const sharedId = await uploadShard(gw.url, shared);
  const bytes = [shardBytes(150_000, 101), shardBytes(150_000, 102), shardBytes(150_000, 103)];
  const own: string[] = [];
  for (const b of bytes) own.push(await uploadShard(gw.url, b));
  // Checkpoint s (step 10 s) has rank 0 = its own shard, rank 1 = the shard all three share.
  for (let s = 1; s <= 3; s++) {
    expect((await call(gw.url, "PUT", commitPath("keeper", `s${s}`, 1), { artefact: sharedId, world_size: 2, step: 10 * s })).status).toBe(200);
    expect((await call(gw.url, "PUT", commitPath("keeper", `s${s}`, 0), { artefact: own[s - 1], world_size: 2, step: 10 * s })).body.complete).toBe(true);
  }
  const listed = (await call(gw.url, "GET", "/v1/jobs/keeper/checkpoints")).body.checkpoints.map((c: any) => c.id);
  expect(listed).toEqual(["s3", "s2"]);
  expect((await call(gw.url, "GET", "/v1/jobs/keeper/checkpoints/s1")).status).toBe(404);
  expect((await call(gw.url, "GET", "/v1/jobs/keeper")).body).toEqual({ job: "keeper", keep: 2, checkpoints: 2 });
  const reused = await call(gw.url, "PUT", commitPath("keeper", "s1", 0), { artefact: own[0], world_size: 2, step: 10 });
  expect(reused.status).toBe(409);
  expect(reused.body.error.message).toContain("was released");

  // An open checkpoint's shard is held too.
  const openShard = shardBytes(100_000, 104);
  const openId = await uploadShard(gw.url, openShard);
  expect((await call(gw.url, "PUT", commitPath("keeper", "s4", 0), { artefact: openId, world_size: 2, step: 40 })).body.complete).toBe(false);

  const gc = await fetch(`${gw.url}/v1/admin/gc`, { method: "POST" });
  expect(gc.status).toBe(200);
  const summary = (await gc.json()) as { manifests_deleted: number; chunks_deleted: number };
  expect(summary.manifests_deleted).toBe(1);
  expect(summary.chunks_deleted).toBeGreaterThan(0);
  expect((await readArtefact(own[0]!)).status).toBe(404);
  for (const [id, expected] of [[own[1]!, bytes[1]!], [own[2]!, bytes[2]!], [sharedId, shared], [openId, openShard]] as const) {
    const read = await readArtefact(id);
    expect(read.status).toBe(200);
    expect(Buffer.compare(read.bytes, expected)).toBe(0);
  }

  // Lowering keep releases at once.
  expect((await call(gw.url, "PUT", "/v1/jobs/keeper", { keep: 1 })).status).toBe(200);
  expect((await call(gw.url, "GET", "/v1/jobs/keeper/checkpoints")).body.checkpoints.map((c: any) => c.id)).toEqual(["s3"]);
  await fetch(`${gw.url}/v1/admin/gc`, { method: "POST" });
  expect((await readArtefact(own[1]!)).status).toBe(404);
  expect((await readArtefact(own[2]!)).status).toBe(200);
  expect((await readArtefact(sharedId)).status).toBe(200);
});
