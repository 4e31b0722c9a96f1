// Retention never deletes what a live dataset version pins, and releases it once the version is
// deleted: a real gateway process (retention runs every 30 s there), a pinned stream and a control
// stream with the same 1 ms retention. planRetention's floor is also checked directly.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { planRetention } from "../../gateway/log/retention.ts";
import type { SegmentRow } from "../../gateway/log/segment-catalog.ts";
import { waitFor } from "../edge/edge-fixtures.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

setDefaultTimeout(240_000);

/** Two retention runs of the gateway (every 30 s) and room for a slow machine. */
const RETENTION_WAIT_MS = 100_000;

let gw: GatewayProcess;
const dataDir = tempDir("strata-dataset-retention-");

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${gw.url}/v1${path}`, { method, headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as unknown };
}

async function startOffset(stream: string): Promise<number> {
  const described = z.object({ partitions: z.array(z.object({ start_offset: z.number() })) }).parse((await call("GET", `/streams/${stream}`)).body);
  return described.partitions[0]!.start_offset;
}

/** Publishes n records and waits until they are in a committed segment (acks=durable). */
async function publishDurable(stream: string, from: number, n: number): Promise<void> {
  const records = Array.from({ length: n }, (_, i) => ({ fields: { n: from + i } }));
  expect((await call("POST", `/streams/${stream}/records?acks=durable`, { records })).status).toBe(200);
}

beforeAll(async () => {
  const config = join(dataDir, "config.json");
  writeFileSync(config, JSON.stringify({ storage: { segmentMs: 20 } }));
  gw = await startGateway({ dataDir, args: ["--config", config] });
  for (const name of ["pinned", "control"]) expect((await call("POST", "/streams", { name, partitions: 1, retention: { ms: 1 } })).status).toBe(201);
});

afterAll(async () => {
  await gw.stop();
  removeDir(dataDir);
});

describe("retention and dataset pins", () => {
  test("a live version keeps its segments through retention runs; deleting it lets retention remove them", async () => {
    await publishDurable("pinned", 0, 5);
    await publishDurable("control", 0, 5);
    const created = await call("POST", "/datasets", { name: "keep", stream: "pinned" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ samples: 5, partitions: [{ partition: 0, start: 0, end: 5 }] });

    // Two retention runs over the control stream: by the second, the first run over "pinned" has finished.
    await waitFor(async () => (await startOffset("control")) >= 5, RETENTION_WAIT_MS, "retention to remove the control stream's first segment");
    await publishDurable("control", 5, 5);
    await waitFor(async () => (await startOffset("control")) >= 10, RETENTION_WAIT_MS, "a second retention run over the control stream");
    expect(await startOffset("pinned")).toBe(0);
    const read = z.object({ samples: z.array(z.object({ n: z.number() })) }).parse((await call("GET", "/datasets/keep/versions/1/samples?start=0&count=5")).body);
    expect(read.samples.map((s) => s.n)).toEqual([0, 1, 2, 3, 4]);

    expect((await call("DELETE", "/datasets/keep/versions/1")).status).toBe(200);
    await waitFor(async () => (await startOffset("pinned")) >= 5, RETENTION_WAIT_MS, "retention to remove the released segment");
  });
});

describe("planRetention", () => {
  const segment = (baseOffset: number, endOffset: number): SegmentRow => ({ baseOffset, endOffset, bytes: 100, firstTimestamp: 0, maxTimestamp: 0, objectKey: `s/${baseOffset}.seg` });
  const segments = [segment(0, 10), segment(10, 20), segment(20, 30)];

  test("stops before the first segment holding the pinned floor or later", () => {
    const everything = { ms: 1 };
    expect(planRetention(segments, everything, 300, 1_000).map((s) => s.baseOffset)).toEqual([0, 10, 20]);
    expect(planRetention(segments, everything, 300, 1_000, 20).map((s) => s.baseOffset)).toEqual([0, 10]);
    expect(planRetention(segments, everything, 300, 1_000, 19).map((s) => s.baseOffset)).toEqual([0]);
    expect(planRetention(segments, everything, 300, 1_000, 0)).toEqual([]);
    expect(planRetention(segments, everything, 300, 1_000, 30).map((s) => s.baseOffset)).toEqual([0, 10, 20]);
  });
});
