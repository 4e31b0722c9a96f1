// All-or-none checkpoints against a live gateway: a checkpoint appears in the listing, as
// latest and as a record on jobs/{job}/checkpoints only once every rank committed; commits are
// idempotent, conflicts are refused with CHECKPOINT_CONFLICT and change nothing; bad input is a
// 400 naming the field.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { call, commitPath, shardBytes, uploadShard } from "./job-fixture.ts";

let gw: LiveGateway;
const shards: string[] = [];

beforeAll(async () => {
  gw = await liveGateway();
  for (let rank = 0; rank < 4; rank++) shards.push(await uploadShard(gw.url, shardBytes(200_000 + rank, rank + 1)));
});
afterAll(async () => {
  await gw?.close();
});

async function records(stream: string): Promise<any[]> {
  const answer = await call(gw.url, "GET", `/v1/streams/${encodeURIComponent(stream)}/partitions/0/records?offset=0`);
  if (answer.status === 404) return [];
  expect(answer.status).toBe(200);
  return answer.body.records;
}

test("a checkpoint is visible only once all world_size ranks committed", async () => {
  const commit = (rank: number) => call(gw.url, "PUT", commitPath("train", "ckpt-1", rank), { artefact: shards[rank], world_size: 4, step: 100, state: { loader: { epoch: 1, position: rank * 10 }, offsets: [rank] } });
  for (const rank of [2, 0, 3]) {
    const answer = await commit(rank);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ job: "train", id: "ckpt-1", rank, step: 100, world_size: 4, complete: false });
  }
  expect((await call(gw.url, "GET", "/v1/jobs/train/checkpoints")).body).toEqual({ job: "train", checkpoints: [] });
  expect((await call(gw.url, "GET", "/v1/jobs/train/checkpoints/latest")).status).toBe(404);
  expect((await call(gw.url, "GET", "/v1/jobs/train/checkpoints/ckpt-1")).status).toBe(404);
  expect((await call(gw.url, "GET", "/v1/jobs/train")).body).toEqual({ job: "train", keep: 3, checkpoints: 0 });
  expect(await records("jobs/train/checkpoints")).toEqual([]);

  const last = await commit(1);
  expect(last.body).toEqual({ job: "train", id: "ckpt-1", rank: 1, step: 100, world_size: 4, committed: 4, complete: true });
  const latest = await call(gw.url, "GET", "/v1/jobs/train/checkpoints/latest");
  expect(latest.status).toBe(200);
  expect(latest.body).toMatchObject({ job: "train", id: "ckpt-1", step: 100, world_size: 4 });
  expect(latest.body.ranks).toEqual(shards.map((artefact, rank) => ({ rank, artefact, state: { loader: { epoch: 1, position: rank * 10 }, offsets: [rank] } })));
  expect(typeof latest.body.completed_at).toBe("number");
  expect((await call(gw.url, "GET", "/v1/jobs/train/checkpoints/ckpt-1")).body).toEqual(latest.body);
  expect((await call(gw.url, "GET", "/v1/jobs/train/checkpoints")).body).toEqual({ job: "train", checkpoints: [latest.body] });
  expect((await call(gw.url, "GET", "/v1/jobs/train")).body).toEqual({ job: "train", keep: 3, checkpoints: 1 });

  const published = await records("jobs/train/checkpoints");
  expect(published.length).toBe(1);
  const fields = published[0].fields;
  expect(fields).toMatchObject({ job: "train", id: "ckpt-1", step: 100, world_size: 4 });
  expect(fields.ranks.map((r: any) => r.artefact.$artefact.manifest)).toEqual(shards);
  expect(fields.ranks[3].state).toEqual({ loader: { epoch: 1, position: 30 }, offsets: [3] });

  // A repeat is answered the same, and publishes nothing more.
  expect((await commit(1)).body).toEqual(last.body);
  expect((await commit(2)).body).toMatchObject({ rank: 2, committed: 4, complete: true });
  expect((await records("jobs/train/checkpoints")).length).toBe(1);
});

test("ranks committing all at once complete the checkpoint once, with one record", async () => {
  const answers = await Promise.all(
    [0, 1, 2, 3, 0, 1, 2, 3].map((rank) => call(gw.url, "PUT", commitPath("burst", "b1", rank), { artefact: shards[rank], world_size: 4, step: 9, state: { rank } })),
  );
  expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
  // Commits of a job run one at a time: the first commits of the four ranks answer 1, 2, 3 and 4 ranks committed.
  expect(new Set(answers.map((a) => a.body.committed))).toEqual(new Set([1, 2, 3, 4]));
  expect((await call(gw.url, "GET", "/v1/jobs/burst/checkpoints/latest")).body.ranks.map((r: any) => r.artefact)).toEqual(shards);
  expect((await records("jobs/burst/checkpoints")).length).toBe(1);
});

test("conflicting commits are CHECKPOINT_CONFLICT and change nothing", async () => {
  const body = (rank: number, extra: Record<string, unknown> = {}) => ({ artefact: shards[rank], world_size: 2, step: 7, ...extra });
  expect((await call(gw.url, "PUT", commitPath("conflicts", "a", 0), body(0))).status).toBe(200);
  for (const bad of [
    { path: commitPath("conflicts", "a", 1), body: body(1, { step: 8 }), says: "step 7" },
    { path: commitPath("conflicts", "a", 1), body: body(1, { world_size: 3 }), says: "world_size 2" },
    { path: commitPath("conflicts", "a", 0), body: body(1), says: "already committed artefact" },
    { path: commitPath("conflicts", "a", 0), body: body(0, { state: { other: true } }), says: "another state" },
  ]) {
    const answer = await call(gw.url, "PUT", bad.path, bad.body);
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe("CHECKPOINT_CONFLICT");
    expect(answer.body.error.message).toContain(bad.says);
  }
  // The repeat of the first commit still answers one rank of two.
  expect((await call(gw.url, "PUT", commitPath("conflicts", "a", 0), body(0))).body).toMatchObject({ committed: 1, complete: false });
  expect((await call(gw.url, "GET", "/v1/jobs/conflicts/checkpoints")).body.checkpoints).toEqual([]);
});

test("bad input is a 400 naming the field, and stores nothing", async () => {
  const ok = { artefact: shards[0], world_size: 2, step: 1 };
  const cases: { path: string; body: unknown; status: number; code: string; says: string }[] = [
    { path: commitPath("bad", "x", 2), body: ok, status: 400, code: "BAD_REQUEST", says: "rank 2 is not in [0, world_size 2)" },
    { path: commitPath("bad", "x", 0), body: { ...ok, world_size: 0 }, status: 400, code: "BAD_REQUEST", says: "world_size" },
    { path: commitPath("bad", "x", 0), body: { ...ok, step: -1 }, status: 400, code: "BAD_REQUEST", says: "step" },
    { path: commitPath("bad", "x", 0), body: { ...ok, artefact: "zz" }, status: 400, code: "BAD_REQUEST", says: "artefact" },
    { path: commitPath("bad", "x", 0), body: { ...ok, state: [1, 2] }, status: 400, code: "BAD_REQUEST", says: "state" },
    { path: commitPath("bad", "x", 0), body: { ...ok, extra: 1 }, status: 400, code: "BAD_REQUEST", says: "extra" },
    { path: commitPath("bad", "x", 0), body: { ...ok, world_size: 1_000_000 }, status: 400, code: "BAD_REQUEST", says: "jobs.maxWorldSize" },
    { path: commitPath("bad", "x", 0), body: { ...ok, state: { blob: "x".repeat(70_000) } }, status: 400, code: "BAD_REQUEST", says: "jobs.maxStateBytes" },
    { path: commitPath("Bad", "x", 0), body: ok, status: 400, code: "BAD_REQUEST", says: "job" },
    { path: commitPath("bad", "latest", 0), body: ok, status: 400, code: "BAD_REQUEST", says: "latest" },
    { path: commitPath("bad", "x", 0), body: { ...ok, artefact: "0".repeat(64) }, status: 404, code: "NOT_FOUND", says: "not stored" },
    { path: "/v1/jobs/bad", body: { keep: 0 }, status: 400, code: "BAD_REQUEST", says: "keep" },
    { path: "/v1/jobs/bad", body: { keep: 100_000 }, status: 400, code: "BAD_REQUEST", says: "jobs.maxKeep" },
  ];
  for (const c of cases) {
    const answer = await call(gw.url, "PUT", c.path, c.body);
    expect({ path: c.path, status: answer.status, code: answer.body.error?.code }).toEqual({ path: c.path, status: c.status, code: c.code });
    expect(answer.body.error.message).toContain(c.says);
  }
  expect((await call(gw.url, "GET", "/v1/jobs/bad")).status).toBe(404);
  expect((await call(gw.url, "GET", "/v1/jobs")).body.jobs.map((j: any) => j.job)).not.toContain("bad");
});
