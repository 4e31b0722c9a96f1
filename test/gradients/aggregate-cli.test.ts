// `strata aggregate` as a process against a gateway process: the mean of a quorum printed and
// published, a SIGKILLed aggregator restarted without a second mean of any step (the step in
// progress at the kill is re-aggregated from the stream), SIGTERM exits 0, usage errors exit 2.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { contributeGradients } from "../../gateway/client.ts";
import { type CliProcess, startCli } from "../helpers/cli-process.ts";
import { type GatewayProcess, removeDir, startGateway } from "../helpers/gateway.ts";
import { waitFor } from "../edge/edge-fixtures.ts";
import { allMeans, referenceMean, tensorOf, valuesOf, waitForMean } from "./gradient-fixtures.ts";

let gw: GatewayProcess;
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => {
  await gw.stop();
  removeDir(gw.dataDir);
});

function strata(args: string[]): CliProcess {
  return startCli(gw.url, args);
}

const gradient = (rank: number, step: number): number[] => [rank * 2 + step, rank - step, 0.25 * rank, 1];

function send(stream: string, step: number, rank: number, worldSize: number) {
  return contributeGradients({ gateway: gw.url }, stream, step, { rank, worldSize, tensors: { g: tensorOf("F32", [4], gradient(rank, step)) } });
}

test("publishes the quorum's mean and prints it; a SIGKILLed aggregator restarts without a second mean", async () => {
  const stream = "cli/grads";
  const first = strata(["aggregate", "--stream", stream, "--quorum", "0.8", "--deadline-ms", "60000", "--json"]);
  for (const rank of [0, 1, 3, 4]) await send(stream, 0, rank, 5);
  const { mean } = await waitForMean({ gateway: gw.url }, stream, 0);
  expect(mean.contributors).toEqual([0, 1, 3, 4]);
  expect(valuesOf(mean.tensors.g!)).toEqual(referenceMean([0, 1, 3, 4].map((r) => gradient(r, 0))));
  await waitFor(() => first.stdout().includes("\n"), 20_000, "the printed mean");
  expect(JSON.parse(first.stdout().split("\n")[0]!)).toMatchObject({ step: 0, world_size: 5, contributors: [0, 1, 3, 4] });

  // Step 1 is in progress (2 of 5 ranks) when the aggregator dies.
  await send(stream, 1, 0, 5);
  await send(stream, 1, 2, 5);
  first.child.kill("SIGKILL");
  await first.exited;

  const second = strata(["aggregate", "--stream", stream, "--quorum", "0.8", "--deadline-ms", "60000"]);
  await send(stream, 1, 3, 5);
  await send(stream, 1, 4, 5);
  const step1 = await waitForMean({ gateway: gw.url }, stream, 1);
  expect(step1.mean.contributors).toEqual([0, 2, 3, 4]);
  await waitFor(() => second.stdout().includes("step 1: mean of 4 of 5 ranks (0,2,3,4)"), 20_000, "the printed mean of step 1");
  expect((await allMeans({ gateway: gw.url }, stream)).map((m) => m.step)).toEqual([0, 1]);
  second.child.kill("SIGTERM");
  expect(await second.exited).toBe(0);
  expect(second.stderr()).toContain("1 means published");
}, 60_000);

test("usage errors exit 2 naming the flag", async () => {
  for (const [args, message] of [
    [["--stream", "g", "--quorum", "1.5", "--deadline-ms", "10"], /--quorum: must be a number in \(0, 1\]/],
    [["--stream", "g", "--deadline-ms", "-1"], /--deadline-ms/],
    [["--stream", "G!", "--deadline-ms", "10"], /--stream: must be a stream name/],
    [["--stream", "g", "--deadline-ms", "10", "--late", "keep"], /--late/],
    [["--stream", "g", "--deadline-ms", "10", "--max-open-steps", "0"], /--max-open-steps: must be an integer in \[1, 1000000\]/],
  ] as const) {
    const run = strata(["aggregate", ...args]);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toMatch(message);
  }
});
