// Scopes of the job routes (docs/auth.md): commits and PUT job need publish on
// jobs/{job}/checkpoints, reads need consume on it; GET /v1/jobs lists only the jobs a token may
// consume. A refused commit changes nothing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { call, commitPath, shardBytes, uploadShard } from "./job-fixture.ts";

const ADMIN = "jobs-scopes-test-administrator-token-0123456789";
let gw: LiveGateway;
const tokens: Record<string, string> = {};

async function issue(...scopes: string[]): Promise<string> {
  const answer = await call(gw.url, "POST", "/v1/tokens", { scopes: scopes.map((s) => ({ action: s.slice(0, s.indexOf(":")), streams: s.slice(s.indexOf(":") + 1) })), ttl_s: 3600 }, ADMIN);
  expect(answer.status).toBe(201);
  return answer.body.token;
}

beforeAll(async () => {
  gw = await liveGateway({ auth: { enabled: true, adminToken: ADMIN } });
  tokens.rank = await issue("publish:jobs/train/checkpoints", "consume:jobs/train/checkpoints");
  tokens.reader = await issue("consume:jobs/train/checkpoints");
  tokens.all = await issue("publish:jobs/>", "consume:jobs/>");
  tokens.other = await issue("publish:jobs/other/checkpoints", "consume:jobs/other/checkpoints");
});
afterAll(async () => {
  await gw?.close();
});

test("commits need publish, reads need consume, on jobs/{job}/checkpoints", async () => {
  const shard = await uploadShard(gw.url, shardBytes(30_000, 400), tokens.rank);
  const body = { artefact: shard, world_size: 1, step: 3 };
  for (const who of ["reader", "other"]) {
    const refused = await call(gw.url, "PUT", commitPath("train", "c1", 0), body, tokens[who]);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("FORBIDDEN");
    expect(refused.body.error.message).toContain("jobs/train/checkpoints");
    expect((await call(gw.url, "PUT", "/v1/jobs/train", { keep: 5 }, tokens[who])).status).toBe(403);
  }
  expect((await call(gw.url, "PUT", commitPath("train", "c1", 0), body)).status).toBe(401);
  expect((await call(gw.url, "GET", "/v1/jobs/train/checkpoints", undefined, tokens.rank)).body.checkpoints).toEqual([]);

  expect((await call(gw.url, "PUT", commitPath("train", "c1", 0), body, tokens.rank)).body.complete).toBe(true);
  expect((await call(gw.url, "PUT", "/v1/jobs/train", { keep: 5 }, tokens.all)).body).toEqual({ job: "train", keep: 5 });
  for (const path of ["/v1/jobs/train", "/v1/jobs/train/checkpoints", "/v1/jobs/train/checkpoints/latest", "/v1/jobs/train/checkpoints/c1"]) {
    expect((await call(gw.url, "GET", path, undefined, tokens.reader)).status).toBe(200);
    expect((await call(gw.url, "GET", path, undefined, tokens.other)).status).toBe(403);
  }
  expect((await call(gw.url, "GET", "/v1/jobs", undefined, tokens.reader)).body.jobs.map((j: any) => j.job)).toEqual(["train"]);
  expect((await call(gw.url, "GET", "/v1/jobs", undefined, tokens.other)).body.jobs).toEqual([]);
});
