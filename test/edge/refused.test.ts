// A request the gateway refuses (a partition the stream does not have) parks its stream: the
// rows stay in the outbox, the error is reported, `edge run --once` exits 1, and the other
// streams drain regardless.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";
import { cli, cliOk, edgeStatus, exactlyOnceInOrder, readStream, recordLines } from "./edge-fixtures.ts";

let gw: GatewayProcess;
let dir: string;

beforeAll(async () => {
  gw = await startGateway();
  dir = tempDir("strata-edge-refused-");
});

afterAll(async () => {
  await gw?.stop();
  if (gw) removeDir(gw.dataDir);
  if (dir) removeDir(dir);
});

test("a refused request parks its stream and keeps its rows; other streams drain", async () => {
  const edgeDir = join(dir, "edge");
  await cliOk(["streams", "create", "refused/one", "--partitions", "1", "--gateway", gw.url]);
  await cliOk(["edge", "publish", "--data", edgeDir, "refused/one", "--records", "--json", '{"partition": 5, "fields": {"x": 1}}']);
  await cliOk(["edge", "publish", "--data", edgeDir, "refused/other", "--batch", "10"], recordLines("a", 0, 40, 10));
  const run = await cli(["edge", "run", "--data", edgeDir, "--gateway", gw.url, "--once"]).done;
  expect(run.code).toBe(1);
  expect(run.stderr).toContain("PARTITION_NOT_FOUND");
  exactlyOnceInOrder(await readStream(gw.url, "refused/other"), { a: 40 });
  const status = await edgeStatus(edgeDir);
  expect(status.outbox_records).toBe(1);
}, 30_000);
