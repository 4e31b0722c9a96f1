// A rolling restart under load: each of three gateways in turn stops cleanly (SIGTERM: it hands
// its leases over at once, finishing the appends in flight) and starts again on the same port and
// data directory, while idempotent producers publish through all of them. Nothing acknowledged is
// lost or duplicated, and after each restart the cluster has a running leader for every partition.
import { expect, test } from "bun:test";
import { expectIntact, startLoad } from "../helpers/cluster-load.ts";
import { clusterPerFile, waitUntil } from "../helpers/cluster.ts";

const STREAM = "rolling-restart";
const PARTITIONS = 6;

const clusterOf = clusterPerFile({ gateways: 3, stream: STREAM, partitions: PARTITIONS });

test("restarting every gateway in turn under load loses nothing", async () => {
  const cluster = clusterOf();
  const load = startLoad({ stream: STREAM, producers: 4, recordsPerRequest: 6, targets: () => cluster.running() });
  try {
    await load.progressed(200, 60_000);
    for (const gateway of cluster.gateways) {
      const stoppedAt = performance.now();
      await gateway.stop();
      // A clean leave hands the leases over: the others lead everything without waiting for expiry.
      await cluster.waitForLeaders(STREAM, PARTITIONS, { exclude: [gateway.node] });
      const handedOverMs = performance.now() - stoppedAt;
      await gateway.start();
      await waitUntil(`${gateway.node} live again`, async () => ((await cluster.status()).gateways.some((g) => g.node === gateway.node && g.live && g.state === "up") ? true : undefined));
      await cluster.waitForLeaders(STREAM, PARTITIONS);
      await load.progressed(150, 60_000);
      console.log(`rolling: ${gateway.node} stopped (leases led elsewhere ${handedOverMs.toFixed(0)} ms after SIGTERM), restarted, back in ${(performance.now() - stoppedAt).toFixed(0)} ms`);
    }
  } catch (e) {
    await load.stop(); // the original failure, not a verdict on a load cut short
    throw e;
  }
  await expectIntact("rolling", load, cluster.running()[0]!, STREAM, PARTITIONS);
}, 240_000);
