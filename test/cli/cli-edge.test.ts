// `strata edge publish|run|status` as real processes: a bad line stops edge publish with the line
// to resume from (or is skipped with --skip-bad), batches are cut by bytes under the edge's
// publish bound, `edge run` takes a gateway URL without a scheme, creates missing streams with
// one partition and logs each acknowledged request with --verbose.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { DEFAULT_EDGE_LIMITS } from "../../edge/limits.ts";
import { cli, cliOk, edgeStatus } from "../edge/edge-fixtures.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

let gateway: GatewayProcess;
let dir: string;

beforeAll(async () => {
  gateway = await startGateway();
  dir = tempDir("strata-cli-edge-");
});
afterAll(async () => {
  await gateway?.stop();
  if (gateway) removeDir(gateway.dataDir);
  if (dir) removeDir(dir);
});

const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => JSON.stringify({ n: from + i })).join("\n");

describe("strata edge", () => {
  test("edge publish stops at a bad line with what was stored and where to resume; --skip-bad skips it", async () => {
    const data = join(dir, "bad");
    const stopped = await cli(["edge", "publish", "--data", data, "edge/bad", "--batch", "4"], `${lines(0, 10)}\n{nope\n${lines(11, 15)}`).done;
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain("line 11: not JSON");
    expect(stopped.stderr).toContain("10 records published; resume from line 11");
    expect(stopped.stderr).toContain("strata edge publish --data");
    expect((await edgeStatus(data)).outbox_records).toBe(10);
    const skipped = await cli(["edge", "publish", "--data", data, "edge/bad", "--skip-bad", "--quiet"], `${lines(0, 3)}\n[]\n${lines(4, 6)}`).done;
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toBe("");
    expect((await edgeStatus(data)).outbox_records).toBe(15);
  });

  test("edge publish cuts batches by bytes under the edge's publish bound", async () => {
    const data = join(dir, "big");
    const big = "y".repeat(3 * 1024 * 1024);
    const input = [0, 1, 2, 3].map((n) => JSON.stringify({ n, big })).join("\n");
    const out = await cliOk(["edge", "publish", "--data", data, "edge/big"], input);
    const batches = out.trim().split("\n").map((l) => JSON.parse(l) as { records: number });
    expect(batches.map((b) => b.records)).toEqual([2, 2]);
    expect(4 * big.length).toBeGreaterThan(DEFAULT_EDGE_LIMITS.maxPublishBytes);
  }, 60_000);

  test("edge run: a scheme-less gateway URL, missing streams created with 1 partition, --verbose logs each ack", async () => {
    const data = join(dir, "run");
    await cliOk(["edge", "publish", "--data", data, "edge/run", "--batch", "5"], lines(0, 12));
    const hostPort = gateway.url.replace(/^http:\/\//, "");
    const run = await cli(["edge", "run", "--data", data, "--gateway", hostPort, "--once", "--verbose"]).done;
    expect(run.code).toBe(0);
    // The loop sends the outbox's rows of a stream together: one request, one ack line.
    expect(run.stderr).toContain("acked 12 records of edge/run");
    expect((await edgeStatus(data)).outbox_records).toBe(0);
    const info = JSON.parse(await cliOk(["streams", "get", "edge/run", "--json", "--gateway", gateway.url])) as { partitions: { end_offset: number }[] };
    expect(info.partitions.map((p) => p.end_offset)).toEqual([12]);
  }, 60_000);
});
