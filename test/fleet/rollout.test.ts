// Staged rollouts against real processes: ten `strata edge run` nodes with labels pin one stream
// at v1; a rollout of v2 at 30 % switches exactly the devices its hash buckets select (files on
// disk and heartbeats agree), raising it to 100 % switches the rest, a rollback returns every
// device to v1, and a device whose --on-update command fails pauses a rollout with
// max_failure_percent. The CLI drives the rollouts; the client library reads their status.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { blake3Hex } from "../../core/hashing/blake3.ts";
import { pushArtefact } from "../../edge/artefacts/index.ts";
import { listDevices, rolloutStatus } from "../../gateway/client/fleet-calls.ts";
import type { DeviceInfo, RolloutInfo } from "../../gateway/fleet/fleet-wire.ts";
import { rolloutBucket } from "../../gateway/fleet/rollout-bucket.ts";
import { writePlainFile } from "../artefacts/client-fixtures.ts";
import { cli, cliOk, type CliRun, waitFor } from "../edge/edge-fixtures.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

const KiB = 1024;
const STREAM = "models/fleet";
const DEVICES = 10;
const FAILING = "dev-9";
let gw: GatewayProcess;
let dir: string;
const nodes: CliRun[] = [];
let v1 = "";
let v2 = "";
const fileHash = new Map<string, string>();

const ids = Array.from({ length: DEVICES }, (_, i) => `dev-${i}`);
const modelPath = (id: string): string => join(dir, id, "model.bin");
const connection = () => ({ gateway: gw.url });

async function devices(): Promise<Map<string, DeviceInfo>> {
  const answer = await listDevices(connection());
  return new Map(answer.devices.map((d) => [d.id, d]));
}

/** Every device reports `expected(id)` for the stream and its file holds that version. */
async function converged(expected: (id: string) => string): Promise<boolean> {
  const seen = await devices();
  return ids.every((id) => {
    const want = expected(id);
    const path = modelPath(id);
    return seen.get(id)?.pins[STREAM] === want && existsSync(path) && blake3Hex(readFileSync(path)) === fileHash.get(want);
  });
}

function startRollout(args: string[]): Promise<RolloutInfo> {
  return cliOk(["rollout", "start", STREAM, ...args, "--gateway", gw.url]).then((out) => JSON.parse(out) as RolloutInfo);
}

beforeAll(async () => {
  gw = await startGateway();
  dir = tempDir("strata-fleet-");
  const f1 = join(dir, "v1.bin");
  const f2 = join(dir, "v2.bin");
  writePlainFile(f1, 512 * KiB + 3, 11);
  writePlainFile(f2, 512 * KiB + 3, 12);
  v1 = (await pushArtefact({ gateway: gw.url, file: f1, stream: STREAM })).artefact;
  // v2 waits on a candidates stream: the pinned stream's devices move only through rollouts.
  v2 = (await pushArtefact({ gateway: gw.url, file: f2, stream: `${STREAM}.candidates` })).artefact;
  fileHash.set(v1, blake3Hex(readFileSync(f1)));
  fileHash.set(v2, blake3Hex(readFileSync(f2)));
  for (const [i, id] of ids.entries()) {
    mkdirSync(join(dir, id), { recursive: true });
    const hook = id === FAILING ? ["--on-update", `test "$STRATA_ARTEFACT" != ${v2}`] : [];
    nodes.push(cli(["edge", "run", "--data", join(dir, id, "edge"), "--gateway", gw.url, "--device-id", id, "--label", `site=${i % 2 === 0 ? "even" : "odd"}`, "--label", "tier=edge", "--pin", `${STREAM}=${modelPath(id)}`, ...hook]));
  }
}, 120_000);

afterAll(async () => {
  for (const n of nodes) n.child.kill("SIGTERM");
  await Promise.all(nodes.map((n) => n.done));
  await gw?.stop();
  if (gw) removeDir(gw.dataDir);
  if (dir) removeDir(dir);
});

describe("staged rollouts", () => {
  test("30 % switches exactly the devices its buckets select, 100 % the rest, rollback returns all to v1; reports match", async () => {
    await waitFor(() => converged(() => v1), 90_000, "every device at v1");
    const listed = await devices();
    for (const [i, id] of ids.entries()) {
      const d = listed.get(id)!;
      expect(d.labels).toEqual({ site: i % 2 === 0 ? "even" : "odd", tier: "edge" });
      expect(d.outbox_records).toBe(0);
      expect(d.transport).toStartWith("http");
      expect(d.last_seen).toBeGreaterThan(0);
    }
    const odd = await cliOk(["devices", "list", "--label", "site=odd", "--json", "--gateway", gw.url]);
    expect((JSON.parse(odd) as { devices: DeviceInfo[] }).devices.map((d) => d.id)).toEqual(ids.filter((_, i) => i % 2 === 1));

    const rollout = await startRollout([v2, "--percent", "30"]);
    expect(rollout).toMatchObject({ stream: STREAM, artefact: v2, previous: v1, percent: 30, state: "active" });
    const chosen = new Set(ids.filter((id) => rolloutBucket(rollout.id, id) < 3000));
    const at30 = (id: string): string => (chosen.has(id) ? v2 : v1);
    await waitFor(() => converged(at30), 60_000, "the selected devices at v2, the rest at v1");
    const status30 = await rolloutStatus(connection(), rollout.id);
    expect(status30.devices).toMatchObject({ matching: DEVICES, selected: chosen.size, target: chosen.size, previous: DEVICES - chosen.size });

    const raised = JSON.parse(await cliOk(["rollout", "set", rollout.id, "100", "--gateway", gw.url])) as RolloutInfo;
    expect(raised.percent).toBe(100);
    await waitFor(() => converged(() => v2), 60_000, "every device at v2");
    await waitFor(async () => (await rolloutStatus(connection(), rollout.id)).state === "completed", 30_000, "the rollout completed");

    const back = JSON.parse(await cliOk(["rollout", "rollback", rollout.id, "--gateway", gw.url])) as RolloutInfo;
    expect(back.state).toBe("rolled-back");
    await waitFor(() => converged(() => v1), 60_000, "every device back at v1");
    const after = await rolloutStatus(connection(), rollout.id);
    expect(after.devices).toMatchObject({ target: 0, previous: DEVICES });
    // A rolled-back rollout takes no new percentage.
    const refused = await cli(["rollout", "set", rollout.id, "50", "--gateway", gw.url]).done;
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("ROLLOUT_CONFLICT");
  }, 300_000);

  test("a device whose pin callback fails pauses a rollout past max_failure_percent", async () => {
    await waitFor(() => converged(() => v1), 60_000, "every device at v1");
    const rollout = await startRollout([v2, "--percent", "100", "--max-failure-percent", "5"]);
    expect(rollout.previous).toBe(v1);
    await waitFor(async () => (await rolloutStatus(connection(), rollout.id)).state === "paused", 60_000, "the rollout paused");
    const status = await rolloutStatus(connection(), rollout.id);
    expect(status.devices.failed).toBe(1);
    expect(status.reason).toContain("1 of 10");
    const failing = (await devices()).get(FAILING)!;
    expect(failing.errors.some((e) => e.stage === "callback" && e.artefact === v2)).toBeTrue();
    // A paused rollout moves nobody new; rolling it back returns everyone to v1.
    await cliOk(["rollout", "rollback", rollout.id, "--gateway", gw.url]);
    await waitFor(() => converged(() => v1), 60_000, "every device back at v1 after the paused rollout");
  }, 200_000);
});
