// The fleet API on a real in-process gateway with --auth: heartbeats and their scope (publish on
// _strata/devices/{id}; targets only for streams the token may consume), the device list by label,
// rollout bad input refused with stable codes and no state change, the state machine's 409s, the
// hash buckets (raising the percentage only adds devices), and the device's own publish time on
// records an edge node published offline.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openEdge } from "../../edge/index.ts";
import { DEVICE_TIME_HEADER } from "../../edge/edge-node.ts";
import { pushArtefact } from "../../edge/artefacts/index.ts";
import { rolloutBucket } from "../../gateway/fleet/rollout-bucket.ts";
import { writePlainFile } from "../artefacts/client-fixtures.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { waitFor } from "../edge/edge-fixtures.ts";

let live: LiveGateway;
let dir: string;
let admin = "";
let a1 = "";
let a2 = "";

async function call(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${live.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: await response.json() };
}

async function tokenWith(scopes: { action: string; streams: string }[]): Promise<string> {
  const issued = await call(admin, "POST", "/v1/tokens", { scopes, ttl_s: 3600, subject: "device" });
  expect(issued.status).toBeLessThan(300);
  return String(issued.body.token);
}

const beat = (pins: Record<string, string | null>, extra: Record<string, unknown> = {}) => ({ labels: { site: "a" }, pins, outbox_records: 3, transport: "http", version: "1.0.0", ...extra });

beforeAll(async () => {
  dir = tempDir("strata-fleet-api-");
  live = await liveGateway({ auth: { enabled: true } });
  admin = (await Bun.file(join(live.dataDir, "admin.token")).text()).trim();
  writePlainFile(join(dir, "a1.bin"), 100_000, 1);
  writePlainFile(join(dir, "a2.bin"), 100_000, 2);
  a1 = (await pushArtefact({ gateway: live.url, token: admin, file: join(dir, "a1.bin"), stream: "models/api" })).artefact;
  a2 = (await pushArtefact({ gateway: live.url, token: admin, file: join(dir, "a2.bin"), stream: "models/api.next" })).artefact;
});

afterAll(async () => {
  await live?.close();
  if (dir) removeDir(dir);
});

describe("fleet API", () => {
  test("a heartbeat needs publish on _strata/devices/{id}; targets only for streams the token may consume", async () => {
    const device = await tokenWith([{ action: "publish", streams: "_strata/devices/dev-a" }]);
    expect((await call(device, "POST", "/v1/devices/dev-b/heartbeat", beat({}))).body.error.code).toBe("FORBIDDEN");
    expect((await call(device, "POST", "/v1/devices/dev-a/heartbeat", beat({ "models/api": a1 }))).status).toBe(200);
    const started = await call(admin, "POST", "/v1/rollouts", { stream: "models/api", artefact: a2, percent: 100 });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ previous: a1, state: "active", devices: { matching: 1, selected: 1, target: 0, previous: 1 } });
    // Without consume on the stream the answer names no target for it.
    expect((await call(device, "POST", "/v1/devices/dev-a/heartbeat", beat({ "models/api": a1 }))).body.targets).toEqual({});
    const both = await tokenWith([{ action: "publish", streams: "_strata/devices/>" }, { action: "consume", streams: "models/>" }]);
    const answer = await call(both, "POST", "/v1/devices/dev-a/heartbeat", beat({ "models/api": a1 }));
    expect(answer.body).toEqual({ device: "dev-a", targets: { "models/api": { artefact: a2, rollout: started.body.id } } });
    // Reading devices needs consume on their pseudo-stream; the list shows only those.
    expect((await call(device, "GET", "/v1/devices/dev-a")).body.error.code).toBe("FORBIDDEN");
    expect((await call(device, "GET", "/v1/devices")).body.devices).toEqual([]);
    const listed = await call(admin, "GET", "/v1/devices?label=site=a");
    expect(listed.body.devices.map((d: { id: string }) => d.id)).toEqual(["dev-a"]);
    expect(listed.body.devices[0]).toMatchObject({ labels: { site: "a" }, pins: { "models/api": a1 }, outbox_records: 3, transport: "http", version: "1.0.0" });
    expect((await call(admin, "GET", "/v1/devices?label=site=b")).body.devices).toEqual([]);
    // Rollouts need admin on their stream.
    expect((await call(both, "POST", `/v1/rollouts/${started.body.id}/rollback`)).body.error.code).toBe("FORBIDDEN");
    expect((await call(admin, "POST", `/v1/rollouts/${started.body.id}/rollback`)).body.state).toBe("rolled-back");
  });

  test("bad input is a 4xx with a stable code and changes nothing", async () => {
    const before = (await call(admin, "GET", "/v1/devices")).body;
    const rolloutsBefore = (await call(admin, "GET", "/v1/rollouts")).body;
    const cases: [string, string, unknown, number, string][] = [
      ["POST", "/v1/devices/dev-x/heartbeat", "{not json", 400, "BAD_REQUEST"],
      ["POST", "/v1/devices/dev-x/heartbeat", { ...beat({}), outbox_records: -1 }, 400, "BAD_REQUEST"],
      ["POST", "/v1/devices/dev-x/heartbeat", { ...beat({ "Bad Stream": null }) }, 400, "BAD_REQUEST"],
      ["POST", "/v1/devices/dev-x/heartbeat", { ...beat({}), labels: { "k": "x".repeat(200) } }, 400, "BAD_REQUEST"],
      ["POST", "/v1/devices/dev-x/heartbeat", { ...beat({}), surprise: 1 }, 400, "BAD_REQUEST"],
      ["POST", "/v1/devices/-bad/heartbeat", beat({}), 400, "BAD_REQUEST"],
      ["GET", "/v1/devices?label=nolabel", undefined, 400, "BAD_REQUEST"],
      ["GET", "/v1/devices/nobody", undefined, 404, "NOT_FOUND"],
      ["POST", "/v1/rollouts", { stream: "models/api", artefact: "zz" }, 400, "BAD_REQUEST"],
      ["POST", "/v1/rollouts", { stream: "models/api", artefact: a2, percent: 101 }, 400, "BAD_REQUEST"],
      ["POST", "/v1/rollouts", { stream: "models/api", artefact: a2, percent: 10.001 }, 400, "BAD_REQUEST"],
      ["POST", "/v1/rollouts", { stream: "models/api", artefact: a2, max_failure_percent: 1.5 }, 400, "BAD_REQUEST"],
      ["POST", "/v1/rollouts", { stream: "models/api", artefact: "0".repeat(64) }, 404, "NOT_FOUND"],
      ["GET", "/v1/rollouts/r-0000000000000000", undefined, 404, "NOT_FOUND"],
      ["PATCH", "/v1/rollouts/nope", { percent: 5 }, 400, "BAD_REQUEST"],
    ];
    for (const [method, path, body, status, code] of cases) {
      const answer = await call(admin, method, path, body);
      expect({ path, body, status: answer.status, code: answer.body.error?.code }).toEqual({ path, body, status, code });
    }
    expect((await call(admin, "GET", "/v1/devices")).body).toEqual(before);
    expect((await call(admin, "GET", "/v1/rollouts")).body).toEqual(rolloutsBefore);
  });

  test("the state machine: one open rollout per stream, no percentage after a rollback, no second rollback", async () => {
    const first = await call(admin, "POST", "/v1/rollouts", { stream: "models/api", artefact: a2, percent: 10, max_failure_percent: 20 });
    expect(first.status).toBe(201);
    expect(first.body.previous).toBe(a1);
    const second = await call(admin, "POST", "/v1/rollouts", { stream: "models/api", artefact: a1 });
    expect([second.status, second.body.error.code]).toEqual([409, "ROLLOUT_CONFLICT"]);
    expect((await call(admin, "PATCH", `/v1/rollouts/${first.body.id}`, { percent: 40 })).body).toMatchObject({ percent: 40, state: "active" });
    expect((await call(admin, "POST", `/v1/rollouts/${first.body.id}/rollback`)).body.state).toBe("rolled-back");
    for (const [method, path, body] of [["PATCH", `/v1/rollouts/${first.body.id}`, { percent: 50 }], ["POST", `/v1/rollouts/${first.body.id}/rollback`, undefined]] as const) {
      const refused = await call(admin, method, path, body);
      expect([refused.status, refused.body.error.code]).toEqual([409, "ROLLOUT_CONFLICT"]);
    }
    expect((await call(admin, "GET", `/v1/rollouts/${first.body.id}`)).body).toMatchObject({ percent: 40, state: "rolled-back" });
  });

  test("hash buckets: a pure function of rollout and device; raising the percentage only adds devices", () => {
    const devices = Array.from({ length: 2000 }, (_, i) => `device-${i}`);
    const chosen = (bp: number) => new Set(devices.filter((d) => rolloutBucket("r-0123456789abcdef", d) < bp));
    expect(chosen(1000)).toEqual(chosen(1000));
    let last = new Set<string>();
    for (const bp of [0, 500, 1000, 3000, 7000, 10_000]) {
      const now = chosen(bp);
      for (const d of last) expect(now.has(d)).toBeTrue();
      last = now;
    }
    expect(chosen(10_000).size).toBe(devices.length);
    expect(chosen(0).size).toBe(0);
    // About 30 % at 30 % (2000 devices: well inside ±5 %).
    expect(Math.abs(chosen(3000).size - 600)).toBeLessThan(100);
  });

  test("records published offline keep the device's publish time in strata-device-time", async () => {
    const token = await tokenWith([{ action: "publish", streams: "telemetry/>" }]);
    const edge = await openEdge({ dataDir: join(dir, "edge-time"), gateway: { http: live.url }, token, maxOutboxBytes: 1 << 20 });
    try {
      const publishedAt = Date.now();
      await edge.publish("telemetry/t", [{ fields: { v: 1 } }, { headers: { [DEVICE_TIME_HEADER]: "42" }, fields: { v: 2 } }]);
      const stampedBy = Date.now();
      // The gateway's arrival time must be later than the device's: let the clock move on.
      await waitFor(() => Date.now() > stampedBy + 1, 1_000, "the clock to move past the publish");
      await edge.run({ once: true });
      const read = await call(admin, "GET", "/v1/streams/telemetry%2Ft/partitions/0/records?offset=0");
      const records = read.body.records as { timestamp: number; headers: Record<string, string> }[];
      expect(records.length).toBe(2);
      const deviceTime = Number(records[0]!.headers[DEVICE_TIME_HEADER]);
      expect(deviceTime).toBeGreaterThanOrEqual(publishedAt);
      expect(deviceTime).toBeLessThanOrEqual(stampedBy);
      expect(records[0]!.timestamp).toBeGreaterThan(deviceTime);
      // A header the application set itself is kept.
      expect(records[1]!.headers[DEVICE_TIME_HEADER]).toBe("42");
    } finally {
      await edge.close();
    }
  });
});
