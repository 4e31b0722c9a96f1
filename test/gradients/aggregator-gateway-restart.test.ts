// The aggregator rides out a gateway that is SIGKILLed and restarted on the same port: its reads
// fail for a while (retried with backoff), then it goes on, and every step has one mean.
import { afterAll, expect, test } from "bun:test";
import { contributeGradients, GradientAggregator } from "../../gateway/client.ts";
import { waitFor } from "../edge/edge-fixtures.ts";
import { type GatewayProcess, removeDir, startGateway } from "../helpers/gateway.ts";
import { allMeans, tensorOf, waitForMean } from "./gradient-fixtures.ts";

const gateways: GatewayProcess[] = [];
afterAll(async () => {
  for (const gw of gateways) await gw.stop();
  removeDir(gateways[0]!.dataDir);
});

test("reads retried across a gateway restart; no step loses or doubles its mean", async () => {
  const first = await startGateway();
  gateways.push(first);
  const url = first.url;
  const stream = "restart/grads";
  const send = (step: number, rank: number) => contributeGradients({ gateway: url }, stream, step, { rank, worldSize: 2, tensors: { g: tensorOf("F32", [2], [rank, step]) } });
  const aggregator = await GradientAggregator.start({ gateway: url, stream, quorum: 1, deadlineMs: 60_000, waitMs: 500 });
  await send(0, 0);
  await send(0, 1);
  await waitForMean({ gateway: url }, stream, 0);

  await first.kill();
  const second = await startGateway({ dataDir: first.dataDir, args: ["--port", new URL(url).port] });
  gateways.push(second);
  expect(second.url).toBe(url);
  await send(1, 0);
  await send(1, 1);
  expect((await waitForMean({ gateway: url }, stream, 1)).mean.contributors).toEqual([0, 1]);
  // The mean is readable before the gateway's answer to its publish reaches the aggregator.
  await waitFor(() => aggregator.stats.published === 2, 20_000, "the aggregator's count of published means");
  expect((await allMeans({ gateway: url }, stream)).map((m) => m.step)).toEqual([0, 1]);
  await aggregator.stop();
  await aggregator.done;
}, 60_000);
