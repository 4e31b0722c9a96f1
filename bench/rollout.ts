// Rollout benchmark (issue 17): `devices` simulated devices (in-process edge nodes sharing
// nothing: each its own data directory, database and chunk cache) pin a safetensors model at v1,
// then move to the next version (5 % of its tensors rewritten) through a staged rollout: a 10 %
// canary first, then 100 %. Measured: chunk bytes moved and the time to converge (canary, then
// everyone), against the peer: every device downloading the whole new file with a plain GET from
// the same gateway, in the same run.
//   bun bench/rollout.ts [--devices 100] [--size-mib 32] [--tensors 200] [--changed 10] [--poll-ms 500] [--rounds 3]
// Round r moves every device from version r+1 to r+2 (the same 5 % of tensors rewritten again);
// Strata and the peer alternate which goes first; the tables give medians over the rounds.
// The default model is 32 MiB, not 256 MiB: 100 devices x 256 MiB of file writes (and as many
// cached chunks) does not fit a shared 2-core machine's time; --size-mib 256 runs the full size.
import { mkdirSync, rmSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { pushArtefact } from "../edge/artefacts/index.ts";
import { type Edge, openEdge } from "../edge/index.ts";
import { rolloutStatus, setRolloutPercent, startRollout } from "../gateway/client/fleet-calls.ts";
import { rolloutBucket } from "../gateway/fleet/rollout-bucket.ts";
import { startGateway } from "../test/helpers/gateway.ts";
import { spreadIndices, writeModel } from "../test/helpers/model-file.ts";
import { intArg } from "./args.ts";
import { reportRatio } from "./ratio.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const work = join(root, "bench", ".work", "rollout");
const MiB = 1024 * 1024;


const deviceCount = intArg("devices", 100);
const sizeBytes = intArg("size-mib", 32) * MiB;
const tensors = intArg("tensors", 200);
const changedCount = intArg("changed", Math.round(tensors * 0.05));
const pollMs = intArg("poll-ms", 500);
const rounds = intArg("rounds", 3);
const CANARY_PERCENT = 10;
const STREAM = "bench/rollout-model";

const log = (s: string): void => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const fmtInt = (n: number): string => n.toLocaleString("en-US");
const fmtMiB = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

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
const layout1 = writeModel(v1File, { bytes: sizeBytes, tensors, seed: 1 });
const changed = spreadIndices(changedCount, tensors);
const changedTensorBytes = [...changed].reduce((n, i) => n + layout1.tensors[i]!.end - layout1.tensors[i]!.begin, 0);

const gw = await startGateway({ dataDir: join(work, "gateway"), timeoutMs: 60_000 });
const conn = { gateway: gw.url };
try {
  const v1 = (await pushArtefact({ gateway: gw.url, file: v1File, stream: STREAM })).artefact;
  log(`model ${fmtMiB(layout1.size)}, ${tensors} tensors, ${changedCount} changed per version (${fmtInt(changedTensorBytes)} B); ${deviceCount} devices, ${rounds} rounds`);

  // --- the devices, at v1 ---
  const holds = new Map<string, string>();
  /** Per artefact, per device: chunk bytes downloaded and when its file was in place. */
  const updates = new Map<string, Map<string, { bytes: number; at: number }>>();
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
        const per = updates.get(e.artefact) ?? new Map<string, { bytes: number; at: number }>();
        per.set(id, { bytes: e.bytesTransferred, at: performance.now() });
        updates.set(e.artefact, per);
      },
    });
    await edge.pin(STREAM, join(dir, "model.safetensors"));
    edges.push(edge);
    runs.push(edge.run());
  }
  await until(() => ids.every((id) => holds.get(id) === v1), 600_000, "every device at v1");
  log("every device holds v1");

  const peerDir = join(work, "peer");
  async function peerRound(artefact: string): Promise<{ bytes: number; s: number }> {
    mkdirSync(peerDir, { recursive: true });
    const started = performance.now();
    const written = await Promise.all(
      ids.map(async (id) => {
        const response = await fetch(`${gw.url}/v1/artefacts/${artefact}`);
        if (!response.ok) throw new Error(`GET ${artefact}: HTTP ${response.status}`);
        return Bun.write(join(peerDir, `${id}.safetensors`), response);
      }),
    );
    const s = (performance.now() - started) / 1000;
    rmSync(peerDir, { recursive: true, force: true });
    return { bytes: written.reduce((a, b) => a + b, 0), s };
  }

  async function strataRound(artefact: string): Promise<{ bytes: number; s: number; canaryS: number; canaryFirst: boolean; canarySize: number }> {
    const started = performance.now();
    const rollout = await startRollout(conn, { stream: STREAM, artefact, percent: CANARY_PERCENT });
    const canary = ids.filter((id) => rolloutBucket(rollout.id, id) < CANARY_PERCENT * 100);
    await until(() => canary.every((id) => holds.get(id) === artefact), 600_000, "the canary at the new version");
    const canaryS = (performance.now() - started) / 1000;
    const othersAtCanary = ids.filter((id) => !canary.includes(id) && holds.get(id) === artefact).length;
    await setRolloutPercent(conn, rollout.id, 100);
    await until(() => ids.every((id) => holds.get(id) === artefact), 600_000, "every device at the new version");
    const s = (performance.now() - started) / 1000;
    // The next round's rollout starts once this one completed (every device reported the target).
    const deadline = Date.now() + 120_000;
    while ((await rolloutStatus(conn, rollout.id)).state !== "completed") {
      if (Date.now() > deadline) throw new Error(`rollout ${rollout.id} did not complete`);
      await Bun.sleep(100);
    }
    const per = updates.get(artefact)!;
    const lastCanary = Math.max(...canary.map((id) => per.get(id)!.at));
    const firstOther = Math.min(...ids.filter((id) => !canary.includes(id)).map((id) => per.get(id)!.at));
    const canaryFirst = canary.length > 0 && othersAtCanary === 0 && lastCanary <= firstOther;
    return { bytes: [...per.values()].reduce((a, u) => a + u.bytes, 0), s, canaryS, canaryFirst, canarySize: canary.length };
  }

  const strata: Awaited<ReturnType<typeof strataRound>>[] = [];
  const peer: Awaited<ReturnType<typeof peerRound>>[] = [];
  for (let r = 0; r < rounds; r++) {
    const file = join(work, `v${r + 2}.safetensors`);
    writeModel(file, { bytes: sizeBytes, tensors, seed: 1, changed, changeSeed: r + 2 });
    // The new version waits on a candidates stream: devices move only through the rollout.
    const next = (await pushArtefact({ gateway: gw.url, file, stream: `${STREAM}.candidates` })).artefact;
    rmSync(file);
    if (r % 2 === 0) {
      peer.push(await peerRound(next));
      strata.push(await strataRound(next));
    } else {
      strata.push(await strataRound(next));
      peer.push(await peerRound(next));
    }
    const last = strata[strata.length - 1]!;
    const lastPeer = peer[peer.length - 1]!;
    log(`round ${r + 1}: strata ${fmtInt(last.bytes)} B in ${last.s.toFixed(2)} s (canary ${last.canarySize} in ${last.canaryS.toFixed(2)} s, first: ${last.canaryFirst}); peer ${fmtInt(lastPeer.bytes)} B in ${lastPeer.s.toFixed(2)} s`);
  }
  const loadAfter = loadavg();

  for (const edge of edges) await edge.close();
  await Promise.all(runs.map((r) => r.catch(() => undefined)));

  const strataBytes = median(strata.map((x) => x.bytes));
  const strataS = median(strata.map((x) => x.s));
  const canaryS = median(strata.map((x) => x.canaryS));
  const peerBytes = median(peer.map((x) => x.bytes));
  const peerS = median(peer.map((x) => x.s));
  const canaryFirst = strata.every((x) => x.canaryFirst);
  const peerLabel = `${deviceCount} plain GETs of the whole new file`;
  console.log(`\n## Rollout: ${deviceCount} devices, one version to the next (${fmtMiB(layout1.size)} safetensors, ${changedCount} of ${tensors} tensors changed), median of ${rounds} rounds\n`);
  console.log("| | bytes moved | per device | × changed tensor bytes | time to converge s |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  console.log(`| changed tensor bytes x ${deviceCount} (truth) | ${fmtInt(changedTensorBytes * deviceCount)} | ${fmtInt(changedTensorBytes)} | 1.000× | |`);
  console.log(`| Strata rollout (canary ${CANARY_PERCENT} %: ${strata.map((x) => x.canarySize).join("/")} devices in ${canaryS.toFixed(2)} s, then 100 %) | ${fmtInt(strataBytes)} | ${fmtInt(Math.round(strataBytes / deviceCount))} | ${(strataBytes / (changedTensorBytes * deviceCount)).toFixed(3)}× | ${strataS.toFixed(2)} |`);
  console.log(`| ${peerLabel} | ${fmtInt(peerBytes)} | ${fmtInt(Math.round(peerBytes / deviceCount))} | ${(peerBytes / (changedTensorBytes * deviceCount)).toFixed(3)}× | ${peerS.toFixed(2)} |`);
  console.log(`\nRounds (s): strata ${strata.map((x) => x.s.toFixed(2)).join(", ")}; peer ${peer.map((x) => x.s.toFixed(2)).join(", ")}. The canary converged before any other device had the new version in every round: ${canaryFirst ? "yes" : "no"}. Devices poll every ${pollMs} ms (a rollout's time includes up to two polls). All devices run in this one process (one JS thread verifies and assembles every device's file); the peer's GETs are served by the gateway process.`);
  console.log(`Bun ${Bun.version}, ${cpus().length} cores; load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")} before, ${loadAfter.map((l) => l.toFixed(2)).join(" ")} after.`);
  const bytesRatio = peerBytes / strataBytes;
  reportRatio({ metric: `rollout bytes moved, ${deviceCount} devices, ${fmtMiB(layout1.size)}, 5 % tensors changed`, peer: peerLabel, strata: `${fmtInt(strataBytes)} B`, peerValue: `${fmtInt(peerBytes)} B`, ratio: bytesRatio, goal: ">= 10x", met: bytesRatio >= 10 });
  const timeRatio = peerS / strataS;
  reportRatio({ metric: `rollout time to converge (10 % canary then 100 %), ${deviceCount} devices`, peer: peerLabel, strata: `${strataS.toFixed(2)} s`, peerValue: `${peerS.toFixed(2)} s`, ratio: timeRatio, goal: ">= 1x", met: timeRatio >= 1 });
  reportRatio({ metric: "canary converges before the rest moves (1 = yes, every round)", peer: "none (a plain GET has no canary)", strata: canaryFirst ? "yes" : "no", peerValue: "-", ratio: canaryFirst ? 1 : 0, goal: "= 1", met: canaryFirst });
} finally {
  await gw.stop();
  rmSync(work, { recursive: true, force: true });
}
