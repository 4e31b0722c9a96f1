// An aggregator started below the gradient stream's start (retention removed the first segment)
// goes on from the start offset instead of stopping: a real gateway process whose retention runs
// every 30 s, on a stream with 1 ms retention and segments sealed after 20 ms.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { contributeGradients, GradientAggregator } from "../../gateway/client.ts";
import { waitFor } from "../edge/edge-fixtures.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";
import { allMeans, tensorOf, waitForMean } from "./gradient-fixtures.ts";

/** Two retention runs of the gateway (every 30 s) and room for a slow machine. */
const RETENTION_WAIT_MS = 100_000;
const stream = "ret/grads";
let gw: GatewayProcess;
const dataDir = tempDir("strata-gradient-retention-");

beforeAll(async () => {
  const config = join(dataDir, "config.json");
  writeFileSync(config, JSON.stringify({ storage: { segmentMs: 20 } }));
  gw = await startGateway({ dataDir, args: ["--config", config] });
  const created = await fetch(`${gw.url}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: stream, partitions: 1, retention: { ms: 1 } }) });
  expect(created.status).toBe(201);
});
afterAll(async () => {
  await gw.stop();
  removeDir(dataDir);
});

async function startOffset(): Promise<number> {
  const response = await fetch(`${gw.url}/v1/streams/${encodeURIComponent(stream)}`);
  return z.object({ partitions: z.array(z.object({ start_offset: z.number() })) }).parse(await response.json()).partitions[0]!.start_offset;
}

const send = (step: number, rank: number) => contributeGradients({ gateway: gw.url }, stream, step, { rank, worldSize: 2, tensors: { g: tensorOf("F32", [2], [rank, step]) } });

test("reads from the start offset when the offsets it was asked to start at were removed", async () => {
  await send(0, 0);
  await send(0, 1);
  // A durable record after them: the segment holding offsets 0..2 is sealed, then retention removes it.
  const filler = await fetch(`${gw.url}/v1/streams/${encodeURIComponent(stream)}/records?acks=durable`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ records: [{ fields: { filler: true } }] }) });
  expect(filler.status).toBe(200);
  await waitFor(async () => (await startOffset()) >= 3, RETENTION_WAIT_MS, "retention to remove the first segment");

  const aggregator = await GradientAggregator.start({ gateway: gw.url, stream, quorum: 1, deadlineMs: 60_000, waitMs: 500, fromOffset: 0 });
  await send(1, 0);
  await send(1, 1);
  expect((await waitForMean({ gateway: gw.url }, stream, 1)).mean.contributors).toEqual([0, 1]);
  expect((await allMeans({ gateway: gw.url }, stream)).map((m) => m.step)).toEqual([1]);
  await aggregator.stop();
  await aggregator.done;
}, 150_000);
