// `strata checkpoints list|show|pull|keep` against a live gateway: list and show the complete
// checkpoints, pull one rank's shard (newest or by id) through the chunk cache, verified, and
// moving only chunks the cache lacks; set keep.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { saveCheckpoint } from "../../gateway/client.ts";
import { cli, cliOk } from "../edge/edge-fixtures.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { shardBytes } from "./job-fixture.ts";

/** Bound of a test that starts processes (slow on a loaded machine); no assertion depends on it. */
const PROCESS_TEST_MS = 60_000;
let gw: LiveGateway;
let dir: string;
const shards = [0, 1].map((rank) => shardBytes(600_000, 700 + rank));

beforeAll(async () => {
  gw = await liveGateway();
  dir = tempDir("strata-jobs-cli-");
  for (const [rank, data] of shards.entries()) await saveCheckpoint(gw.url, { job: "cli", id: "first", rank, worldSize: 2, step: 1, data, state: { rank } });
  const changed = shards[1]!.slice();
  changed.set(shardBytes(10_000, 800), 300_000);
  shards.push(changed);
  await saveCheckpoint(gw.url, { job: "cli", id: "second", rank: 0, worldSize: 2, step: 2, data: shards[0]!, state: { rank: 0, at: 2 } });
  await saveCheckpoint(gw.url, { job: "cli", id: "second", rank: 1, worldSize: 2, step: 2, data: changed, state: { rank: 1, at: 2 } });
}, PROCESS_TEST_MS);
afterAll(async () => {
  await gw?.close();
  removeDir(dir);
}, PROCESS_TEST_MS);

test("list and show the complete checkpoints", async () => {
  const lines = (await cliOk(["checkpoints", "list", "cli", "--gateway", gw.url])).trim().split("\n");
  expect(lines.map((l) => l.split("\t")[0])).toEqual(["second", "first"]);
  expect(lines[0]).toContain("step=2\tworld_size=2\tcompleted_at=");
  const listed = JSON.parse(await cliOk(["checkpoints", "list", "cli", "--json", "--gateway", gw.url]));
  expect(listed.checkpoints.length).toBe(2);
  const latest = JSON.parse(await cliOk(["checkpoints", "show", "cli", "--gateway", gw.url]));
  expect(latest).toMatchObject({ id: "second", step: 2, ranks: [{ rank: 0, state: { rank: 0, at: 2 } }, { rank: 1, state: { rank: 1, at: 2 } }] });
  expect(latest.completed_at).toMatch(/^\d{4}-\d\d-\d\dT/);
  expect(JSON.parse(await cliOk(["checkpoints", "show", "cli", "first", "--json", "--gateway", gw.url])).completed_at).toBeNumber();
  const missing = await cli(["checkpoints", "show", "cli", "third", "--gateway", gw.url]).done;
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain("third");
}, PROCESS_TEST_MS);

test("pull a rank's shard through the cache: verified, only missing chunks move", async () => {
  const cache = join(dir, "cache");
  const first = JSON.parse(await cliOk(["checkpoints", "pull", "cli", "first", join(dir, "r1-first.bin"), "--rank", "1", "--cache", cache, "--json", "--gateway", gw.url]));
  expect(first).toMatchObject({ job: "cli", id: "first", step: 1, rank: 1, state: { rank: 1 } });
  expect(first.bytes_transferred).toBe(600_000);
  expect(Buffer.compare(readFileSync(join(dir, "r1-first.bin")), shards[1]!)).toBe(0);
  // The newest checkpoint's rank 1 differs in one region: only its chunks come over.
  const second = JSON.parse(await cliOk(["checkpoints", "pull", "cli", join(dir, "r1-latest.bin"), "--rank", "1", "--cache", cache, "--json", "--gateway", gw.url]));
  expect(second).toMatchObject({ id: "second", rank: 1, state: { rank: 1, at: 2 } });
  expect(second.bytes_transferred).toBeGreaterThan(0);
  expect(second.bytes_transferred).toBeLessThan(300_000);
  expect(Buffer.compare(readFileSync(join(dir, "r1-latest.bin")), shards[2]!)).toBe(0);
  const bad = await cli(["checkpoints", "pull", "cli", join(dir, "x.bin"), "--rank", "5", "--cache", cache, "--gateway", gw.url]).done;
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain("not rank 5");
}, PROCESS_TEST_MS);

test("keep sets how many complete checkpoints the job keeps", async () => {
  expect(JSON.parse(await cliOk(["checkpoints", "keep", "cli", "1", "--gateway", gw.url]))).toEqual({ job: "cli", keep: 1 });
  expect((await cliOk(["checkpoints", "list", "cli", "--gateway", gw.url])).trim().split("\n").length).toBe(1);
  expect((await cli(["checkpoints", "keep", "cli", "0", "--gateway", gw.url]).done).code).toBe(2);
}, PROCESS_TEST_MS);
