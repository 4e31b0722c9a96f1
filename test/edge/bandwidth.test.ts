// `strata edge run --rate-limit` bounds the total sync bandwidth, uploads and pin downloads
// together: bytes crossing a proxy between edge and gateway (both directions, HTTP heads
// included) over a 10-second window stay within 10% of the limit, and the link is used.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pushArtefact } from "../../edge/artefacts/index.ts";
import { writePlainFile } from "../artefacts/client-fixtures.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";
import { bytesIn, type CountingProxy, countingProxy } from "./counting-proxy.ts";
import { cli, cliOk, edgeStatus, recordLines, waitFor } from "./edge-fixtures.ts";

const KiB = 1024;
const RATE = 256 * KiB;
const WINDOW_MS = 10_000;

let gw: GatewayProcess;
let proxy: CountingProxy;
let dir: string;

beforeAll(async () => {
  gw = await startGateway();
  proxy = await countingProxy(Number(new URL(gw.url).port));
  dir = tempDir("strata-edge-bw-");
});

afterAll(async () => {
  await proxy?.close();
  await gw?.stop();
  if (gw) removeDir(gw.dataDir);
  if (dir) removeDir(dir);
});

test("the rate limit holds within 10% over a 10-second window of uploads and a pin download", async () => {
  const edgeDir = join(dir, "edge");
  // ~1.2 MB of records (about 5 s at the limit), then a 2 MiB artefact for the pin: more than a window's worth.
  await cliOk(["edge", "publish", "--data", edgeDir, "bw/records", "--batch", "20"], recordLines("a", 0, 300, 4000));
  const model = join(dir, "model.bin");
  writePlainFile(model, 2 * 1024 * KiB, 5);
  await pushArtefact({ gateway: gw.url, file: model, stream: "bw/model" });

  const run = cli(["edge", "run", "--data", edgeDir, "--gateway", `http://127.0.0.1:${proxy.port}`, "--rate-limit", "256K/s", "--pin", `bw/model=${join(dir, "pinned.bin")}`]);
  try {
    await waitFor(() => proxy.samples.length > 0, 15_000, "the first byte through the proxy");
    const start = proxy.samples[0]![0];
    await Bun.sleep(WINDOW_MS + 200 - (performance.now() - start));
    const bytes = bytesIn(proxy.samples, start, WINDOW_MS);
    const limit = (RATE * WINDOW_MS) / 1000;
    console.log(`edge bandwidth: ${bytes} bytes in ${WINDOW_MS} ms, ${((bytes / limit) * 100).toFixed(1)}% of the limit`);
    expect(bytes).toBeLessThanOrEqual(limit * 1.1);
    expect(bytes).toBeGreaterThanOrEqual(limit * 0.8);
    // Both kinds of transfer were in the window: the pin arrived and records left the outbox.
    expect(existsSync(join(dir, "pinned.bin"))).toBe(true);
    expect((await edgeStatus(edgeDir)).outbox_records).toBeLessThan(300);
  } finally {
    run.child.kill("SIGTERM");
    await run.done;
  }
}, 60_000);
