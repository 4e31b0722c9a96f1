// Rollout benchmark (issue 17): `devices` simulated devices (in-process edge nodes sharing
// nothing: each its own data directory, database and chunk cache) pin a safetensors model at v1,
// then move to v2 (5 % of its tensors rewritten) through a staged rollout: a 10 % canary first,
// then 100 %. Measured: chunk bytes moved and the time to converge (canary, then everyone),
// against the peer: every device downloading the whole v2 file with a plain GET from the same
// gateway, in the same run.
//   bun bench/rollout.ts [--devices 100] [--size-mib 32] [--tensors 200] [--changed 10] [--poll-ms 500]
// The default model is 32 MiB, not 256 MiB: 100 devices x 256 MiB of file writes (and as many
// cached chunks) does not fit a shared 2-core machine's time; --size-mib 256 runs the full size.
import { mkdirSync, rmSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { pushArtefact } from "../edge/artefacts/index.ts";
import { type Edge, openEdge } from "../edge/index.ts";
import { setRolloutPercent, startRollout } from "../gateway/client/fleet-calls.ts";
import { rolloutBucket } from "../gateway/fleet/rollout-bucket.ts";
import { startGateway } from "../test/helpers/gateway.ts";
import { spreadIndices, writeModel } from "../test/helpers/model-file.ts";
import { reportRatio } from "./ratio.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const work = join(root, "bench", ".work", "rollout");
const MiB = 1024 * 1024;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} needs a positive integer`);
  return n;
}

const deviceCount = arg("devices", 100);
const sizeBytes = arg("size-mib", 32) * MiB;
const tensors = arg("tensors", 200);
const changedCount = arg("changed", Math.round(tensors * 0.05));
const pollMs = arg("poll-ms", 500);
const CANARY_PERCENT = 10;
const STREAM = "bench/rollout-model";

const log = (s: string): void => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const fmtInt = (n: number): string => n.toLocaleString("en-US");
const fmtMiB = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const loadBefore = loadavg();
const v1File = join(work, "v1.safetensors");
const v2File = join(work, "v2.safetensors");
const layout1 = writeModel(v1File, { bytes: sizeBytes, tensors, seed: 1 });
const changed = spreadIndices(changedCount, tensors);
const layout2 = writeModel(v2File, { bytes: sizeBytes, tensors, seed: 1, changed, changeSeed: 2 });
const changedTensorBytes = [...changed].reduce((n, i) => n + layout2.tensors[i]!.end - layout2.tensors[i]!.begin, 0);

const gw = await startGateway({ dataDir: join(work, "gateway"), timeoutMs: 60_000 });
const conn = { gateway: gw.url };
try {
  const v1 = (await pushArtefact({ gateway: gw.url, file: v1File, stream: STREAM })).artefact;
  const v2 = (await pushArtefact({ gateway: gw.url, file: v2File, stream: `${STREAM}.candidates` })).artefact;
  log(`model ${fmtMiB(layout1.size)}, ${tensors} tensors, ${changedCount} changed (${fmtInt(changedTensorBytes)} B); ${deviceCount} devices`);

  // --- the devices, at v1 ---
  const holds = new Map<string, string>();
  const v2Bytes = new Map<string, number>();
  const v2At = new Map<string, number>();
  const edges: Edge[] = [];
  const runs: Promise<void>[] = [];
  const ids = Array.from({ length: deviceCount }, (_, i) => `dev-${String(i).padStart(3, "0")}`);
  for (const id of ids) {
    const dir = join(work, "devices", id);
    const edge = await openEdge({
      dataDir: dir,
      gateway: { http: gw.url },
      maxOutboxBytes: MiB,
      deviceId: id,
      limits: { pinPollMs: pollMs },
      onEvent: (e) => {
        if (e.kind !== "pin-updated") return;
        holds.set(id, e.artefact);
        if (e.artefact === v2) {
          v2Bytes.set(id, e.bytesTransferred);
          v2At.set(id, performance.now());
        }
      },
    });
    await edge.pin(STREAM, join(dir, "model.safetensors"));
    edges.push(edge);
    runs.push(edge.run());
  }
  await until(() => ids.every((id) => holds.get(id) === v1), 600_000, "every device at v1");
  log("every device holds v1");

  // --- the peer: every device GETs the whole v2 file ---
  const peerDir = join(work, "peer");
  mkdirSync(peerDir, { recursive: true });
  const peerStart = performance.now();
  const peerBytes = await Promise.all(
    ids.map(async (id) => {
      const response = await fetch(`${gw.url}/v1/artefacts/${v2}`);
      if (!response.ok) throw new Error(`GET v2: HTTP ${response.status}`);
      return Bun.write(join(peerDir, `${id}.safetensors`), response);
    }),
  );
  const peerS = (performance.now() - peerStart) / 1000;
  const peerTotal = peerBytes.reduce((a, b) => a + b, 0);
  rmSync(peerDir, { recursive: true, force: true });
  log(`peer: ${fmtInt(peerTotal)} B in ${peerS.toFixed(2)} s`);

  // --- Strata: a 10 % canary, then 100 % ---
  const start = performance.now();
  const rollout = await startRollout(conn, { stream: STREAM, artefact: v2, percent: CANARY_PERCENT });
  const canary = ids.filter((id) => rolloutBucket(rollout.id, id) < CANARY_PERCENT * 100);
  await until(() => canary.every((id) => holds.get(id) === v2), 600_000, "the canary at v2");
  const canaryS = (performance.now() - start) / 1000;
  const othersAtCanary = ids.filter((id) => !canary.includes(id) && holds.get(id) === v2).length;
  await setRolloutPercent(conn, rollout.id, 100);
  await until(() => ids.every((id) => holds.get(id) === v2), 600_000, "every device at v2");
  const allS = (performance.now() - start) / 1000;
  const strataTotal = [...v2Bytes.values()].reduce((a, b) => a + b, 0);
  const lastCanary = Math.max(...canary.map((id) => v2At.get(id)!));
  const firstOther = Math.min(...ids.filter((id) => !canary.includes(id)).map((id) => v2At.get(id)!));
  const loadAfter = loadavg();

  for (const edge of edges) await edge.close();
  await Promise.all(runs.map((r) => r.catch(() => undefined)));

  const peerLabel = `${deviceCount} plain GETs of the whole v2 file`;
  console.log(`\n## Rollout: ${deviceCount} devices, v1 → v2 (${fmtMiB(layout1.size)} safetensors, ${changedCount} of ${tensors} tensors changed)\n`);
  console.log("| | bytes moved | per device | × changed tensor bytes | time to converge s |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  console.log(`| changed tensor bytes x ${deviceCount} (truth) | ${fmtInt(changedTensorBytes * deviceCount)} | ${fmtInt(changedTensorBytes)} | 1.000× | |`);
  console.log(`| Strata rollout (canary ${CANARY_PERCENT} %: ${canary.length} devices in ${canaryS.toFixed(2)} s, then 100 %) | ${fmtInt(strataTotal)} | ${fmtInt(Math.round(strataTotal / deviceCount))} | ${(strataTotal / (changedTensorBytes * deviceCount)).toFixed(3)}× | ${allS.toFixed(2)} |`);
  console.log(`| ${peerLabel} | ${fmtInt(peerTotal)} | ${fmtInt(Math.round(peerTotal / deviceCount))} | ${(peerTotal / (changedTensorBytes * deviceCount)).toFixed(3)}× | ${peerS.toFixed(2)} |`);
  const lead = canary.length > 0 && canary.length < deviceCount ? `${((firstOther - lastCanary) / 1000).toFixed(2)} s` : "n/a (an empty or whole canary)";
  console.log(`\nCanary: the last canary device had its v2 in place ${lead} before the first other device had; ${othersAtCanary} non-canary devices had moved when the canary converged. Devices poll every ${pollMs} ms (the rollout time includes up to two polls). All devices run in this one process (one JS thread verifies and assembles every device's file), the peer's GETs are served by the gateway process.`);
  console.log(`Bun ${Bun.version}, ${cpus().length} cores; load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")} before, ${loadAfter.map((l) => l.toFixed(2)).join(" ")} after. One round of each, the peer first.`);
  const bytesRatio = peerTotal / strataTotal;
  reportRatio({ metric: `rollout v1 → v2 bytes moved, ${deviceCount} devices, ${fmtMiB(layout1.size)}, 5 % tensors changed`, peer: peerLabel, strata: `${fmtInt(strataTotal)} B`, peerValue: `${fmtInt(peerTotal)} B`, ratio: bytesRatio, goal: ">= 10x", met: bytesRatio >= 10 });
  const timeRatio = peerS / allS;
  reportRatio({ metric: `rollout v1 → v2 time to converge (10 % canary then 100 %), ${deviceCount} devices`, peer: peerLabel, strata: `${allS.toFixed(2)} s`, peerValue: `${peerS.toFixed(2)} s`, ratio: timeRatio, goal: ">= 1x", met: timeRatio >= 1 });
  const canaryFirst = canary.length > 0 && othersAtCanary === 0 && lastCanary <= firstOther;
  reportRatio({ metric: "canary converges before the rest moves (1 = yes)", peer: "none (a plain GET has no canary)", strata: canaryFirst ? "yes" : "no", peerValue: "-", ratio: canaryFirst ? 1 : 0, goal: "= 1", met: canaryFirst });
} finally {
  await gw.stop();
  rmSync(work, { recursive: true, force: true });
}
