// The CLI and the edge node given several gateway URLs (`--gateway URL,URL` or STRATA_GATEWAY with
// commas), against real gateway processes: a dead first URL is passed over for the second, and an
// edge node whose gateway is SIGKILLed mid-sync moves to the next URL (the same data directory
// restarted there) and delivers every record exactly once.
import { afterEach, describe, expect, test } from "bun:test";
import { cli, cliOk, endOffset, exactlyOnceInOrder, freePort, readStream, recordLines, waitFor } from "../edge/edge-fixtures.ts";
import { startCli } from "../helpers/cli-process.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

const running: GatewayProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const gateway of running.splice(0)) await gateway.kill();
  for (const dir of dirs.splice(0)) removeDir(dir);
});

function dir(): string {
  const d = tempDir("strata-clients-cli-");
  dirs.push(d);
  return d;
}

async function gatewayOn(dataDir: string, port?: number): Promise<GatewayProcess> {
  const gateway = await startGateway({ dataDir, ...(port === undefined ? {} : { args: ["--port", String(port)] }) });
  running.push(gateway);
  return gateway;
}

describe("strata with a list of gateways", () => {
  test("a dead first URL: streams, publish, consume and list go through the second", async () => {
    const live = await gatewayOn(dir());
    const list = `127.0.0.1:${await freePort()},${live.url}`;
    await cliOk(["streams", "create", "cli/list", "--gateway", list]);
    const published = await cliOk(["publish", "cli/list", "--gateway", list], '{"n": 1}\n{"n": 2}\n');
    expect(published.trim().split("\n").map((l) => JSON.parse(l))).toEqual([
      { partition: 0, offset: 0 },
      { partition: 0, offset: 1 },
    ]);
    const consumed = await cliOk(["consume", "cli/list", "--json", "--gateway", list]);
    expect(consumed.trim().split("\n").map((l) => (JSON.parse(l) as { fields: { n: number } }).fields.n)).toEqual([1, 2]);
    // STRATA_GATEWAY takes the same list.
    const listed = startCli(list, ["streams", "list"]);
    expect(await listed.exited).toBe(0);
    expect(listed.stdout()).toContain("cli/list\tpartitions=1");
  }, 60_000);

  test("a URL in the list that is not http(s) is a usage error naming it; push takes one URL", async () => {
    const bad = await cli(["streams", "list", "--gateway", "127.0.0.1:7070,ftp://example.org"]).done;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--gateway: must be an http(s) URL");
    expect(bad.stderr).toContain("ftp://example.org");
    const push = await cli(["push", "nothing.bin", "--stream", "s", "--gateway", "127.0.0.1:7070,127.0.0.1:7071"]).done;
    expect(push.code).toBe(2);
    expect(push.stderr).toContain("takes one gateway URL");
  }, 30_000);
});

describe("strata edge run with a list of gateways", () => {
  test("the gateway SIGKILLed mid-sync: the node moves to the next URL and every record arrives exactly once", async () => {
    const gatewayDir = dir();
    const first = await gatewayOn(gatewayDir);
    const secondPort = await freePort();
    const edgeDir = dir();
    const total = 3_000;
    await cliOk(["edge", "publish", "--data", edgeDir, "edge/list"], recordLines("a", 0, total, 400));
    // Slowed down so that the kill lands mid-sync.
    const run = cli(["edge", "run", "--data", edgeDir, "--gateway", `${first.url},http://127.0.0.1:${secondPort}`, "--rate-limit", "256K/s"]);
    try {
      await waitFor(async () => (await endOffset(first.url, "edge/list")) >= 200, 30_000, "the first records on the first gateway");
      expect(await endOffset(first.url, "edge/list")).toBeLessThan(total);
      await first.kill();
      const second = await gatewayOn(gatewayDir, secondPort);
      await waitFor(async () => (await endOffset(second.url, "edge/list")) >= total, 60_000, "every record on the second gateway");
      exactlyOnceInOrder(await readStream(second.url, "edge/list"), { a: total });
    } finally {
      run.child.kill("SIGTERM");
      await run.done;
    }
  }, 120_000);
});
