// The quorum aggregator (library) against a real gateway: quorum with a silent rank, a refused
// wrong shape that leaves the mean alone, the deadline path, late drop and carry, f16 and bf16,
// and a restart that publishes no second mean of a step.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { StrataError } from "../../core/errors.ts";
import { contributeGradients, GradientAggregator, quorumRanks, type GradientAggregatorOptions } from "../../gateway/client.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { allMeans, referenceMean, tensorOf, valuesOf, waitForMean } from "./gradient-fixtures.ts";

let live: LiveGateway;
const running: GradientAggregator[] = [];
beforeAll(async () => {
  live = await liveGateway();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.stop()));
});
afterAll(async () => {
  await live.close();
});

async function aggregate(options: Omit<GradientAggregatorOptions, "gateway">): Promise<GradientAggregator> {
  const aggregator = await GradientAggregator.start({ gateway: live.url, waitMs: 500, ...options });
  running.push(aggregator);
  return aggregator;
}

/** Rank r's gradient for step s: small multiples of 1/4, exact in f32, f16 and bf16. */
const gradient = (rank: number, step: number): number[] => [rank + step, -rank / 4, 0.5 * (rank + 1), step - rank];

function send(stream: string, step: number, rank: number, worldSize: number, values = gradient(rank, step), dtype: "F32" | "F16" | "BF16" = "F32") {
  return contributeGradients({ gateway: live.url }, stream, step, { rank, worldSize, tensors: { w: tensorOf(dtype, [2, 2], values), b: tensorOf(dtype, [2], values.slice(0, 2)) } });
}

test("quorum arithmetic: ceil(quorum x world_size), at least one rank", () => {
  expect(quorumRanks(0.8, 5)).toBe(4);
  expect(quorumRanks(0.7, 10)).toBe(7);
  expect(quorumRanks(1, 3)).toBe(3);
  expect(quorumRanks(0.01, 3)).toBe(1);
});

test("5 ranks at quorum 0.8 with one silent rank: the mean of 4 is published at once, naming them", async () => {
  const stream = "grads/quorum";
  await aggregate({ stream, quorum: 0.8, deadlineMs: 60_000 });
  for (const rank of [0, 1, 3, 4]) await send(stream, 0, rank, 5);
  const { record, mean } = await waitForMean({ gateway: live.url }, stream, 0);
  expect(record.headers).toEqual({ contributors: "0,1,3,4", quorum: "0.8", world_size: "5" });
  expect(new TextDecoder().decode(record.key!)).toBe("0");
  expect(mean.contributors).toEqual([0, 1, 3, 4]);
  expect(mean.world_size).toBe(5);
  expect(valuesOf(mean.tensors.w!)).toEqual(referenceMean([0, 1, 3, 4].map((r) => gradient(r, 0))));
  expect(valuesOf(mean.tensors.b!)).toEqual(referenceMean([0, 1, 3, 4].map((r) => gradient(r, 0).slice(0, 2))));
  expect(mean.tensors.w!.dtype).toBe("F32");
  expect(mean.tensors.w!.shape).toEqual([2, 2]);
});

test("a rank sending a wrong shape is refused with TENSOR_MISMATCH and the step's mean is unaffected", async () => {
  const stream = "grads/wrong-shape";
  await aggregate({ stream, quorum: 1, deadlineMs: 60_000 });
  await send(stream, 0, 0, 3);
  const wrong: unknown = await contributeGradients({ gateway: live.url }, stream, 0, { rank: 1, worldSize: 3, tensors: { w: tensorOf("F32", [4], [9, 9, 9, 9]), b: tensorOf("F32", [2], [9, 9]) } }).catch((e: unknown) => e);
  expect(wrong).toBeInstanceOf(StrataError);
  expect((wrong as StrataError).code).toBe("TENSOR_MISMATCH");
  await send(stream, 0, 1, 3);
  await send(stream, 0, 2, 3);
  const { mean } = await waitForMean({ gateway: live.url }, stream, 0);
  expect(mean.contributors).toEqual([0, 1, 2]);
  expect(valuesOf(mean.tensors.w!)).toEqual(referenceMean([0, 1, 2].map((r) => gradient(r, 0))));
});

test("deadline: 2 of 5 arrive at quorum 0.8; after the deadline their mean is published", async () => {
  const stream = "grads/deadline";
  await aggregate({ stream, quorum: 0.8, deadlineMs: 300 });
  await send(stream, 4, 2, 5);
  await send(stream, 4, 3, 5);
  const { record, mean } = await waitForMean({ gateway: live.url }, stream, 4);
  expect(mean.contributors).toEqual([2, 3]);
  expect(record.headers.contributors).toBe("2,3");
  expect(valuesOf(mean.tensors.w!)).toEqual(referenceMean([2, 3].map((r) => gradient(r, 4))));
});

/** Step 0 published by ranks 0 and 1 (quorum 2 of 3), then rank 2's step 0 arrives late, then ranks 2 and 0 contribute step 1. */
async function lateSequence(stream: string): Promise<void> {
  await send(stream, 0, 0, 3);
  await send(stream, 0, 1, 3);
  await waitForMean({ gateway: live.url }, stream, 0);
  await send(stream, 0, 2, 3);
  await send(stream, 1, 2, 3);
  await send(stream, 1, 0, 3);
}

test("late drop: a contribution after its step's mean is counted and dropped; the next step is unaffected", async () => {
  const stream = "grads/late-drop";
  const aggregator = await aggregate({ stream, quorum: 0.6, deadlineMs: 60_000 });
  await lateSequence(stream);
  const { mean } = await waitForMean({ gateway: live.url }, stream, 1);
  expect(aggregator.stats.lateDropped).toBe(1);
  expect(mean.contributors).toEqual([0, 2]);
  expect(valuesOf(mean.tensors.w!)).toEqual(referenceMean([2, 0].map((r) => gradient(r, 1))));
});

test("late carry: a contribution after its step's mean is added to the same rank's contribution of the next step", async () => {
  const stream = "grads/late-carry";
  const aggregator = await aggregate({ stream, quorum: 0.6, deadlineMs: 60_000, late: "carry" });
  await lateSequence(stream);
  const { record, mean } = await waitForMean({ gateway: live.url }, stream, 1);
  expect(aggregator.stats.carried).toBe(1);
  expect(aggregator.stats.lateDropped).toBe(0);
  expect(record.headers.carried).toBe("2@0");
  expect(mean.contributors).toEqual([0, 2]);
  // Rank 2's slot holds its step-1 gradient plus its late step-0 one; the mean is over 2 ranks.
  const rank2 = gradient(2, 1).map((v, i) => Math.fround(v + gradient(2, 0)[i]!));
  const sums = gradient(0, 1).map((v, i) => Math.fround(Math.fround(rank2[i]!) + v));
  expect(valuesOf(mean.tensors.w!)).toEqual(sums.map((s) => Math.fround(s / 2)));
});

for (const dtype of ["F16", "BF16"] as const) {
  test(`${dtype} contributions are summed in f32 and the mean comes back as ${dtype}`, async () => {
    const stream = `grads/${dtype.toLowerCase()}`;
    await aggregate({ stream, quorum: 1, deadlineMs: 60_000 });
    for (const rank of [0, 1, 2, 3]) await send(stream, 0, rank, 4, gradient(rank, 0), dtype);
    const { mean } = await waitForMean({ gateway: live.url }, stream, 0);
    expect(mean.tensors.w!.dtype).toBe(dtype);
    expect(mean.tensors.w!.data.byteLength).toBe(4 * 2);
    // Every mean here (multiples of 1/16 below 8) is exact in f16 and bf16.
    expect(valuesOf(mean.tensors.w!)).toEqual(referenceMean([0, 1, 2, 3].map((r) => gradient(r, 0))));
  });
}

test("a repeated contribution is one record, and counts once", async () => {
  const stream = "grads/repeat-once";
  const first = await send(stream, 0, 1, 2);
  const again = await send(stream, 0, 1, 2);
  expect(again).toEqual(first);
  await aggregate({ stream, quorum: 1, deadlineMs: 60_000 });
  await send(stream, 0, 0, 2);
  const { mean } = await waitForMean({ gateway: live.url }, stream, 0);
  expect(mean.contributors).toEqual([0, 1]);
});

test("a restarted aggregator skips published steps and publishes no second mean", async () => {
  const stream = "grads/restart";
  const first = await aggregate({ stream, quorum: 1, deadlineMs: 60_000 });
  await send(stream, 0, 0, 2);
  await send(stream, 0, 1, 2);
  await waitForMean({ gateway: live.url }, stream, 0);
  // Step 1 is in progress when the aggregator stops: one of two ranks is in.
  await send(stream, 1, 0, 2);
  await first.stop();
  const second = await aggregate({ stream, quorum: 1, deadlineMs: 60_000 });
  await send(stream, 1, 1, 2);
  const { mean } = await waitForMean({ gateway: live.url }, stream, 1);
  expect(mean.contributors).toEqual([0, 1]);
  expect(second.stats.skipped).toBe(2);
  expect((await allMeans({ gateway: live.url }, stream)).map((m) => m.step)).toEqual([0, 1]);
});

test("a step opened past maxOpenSteps publishes the lowest open step first, as if its deadline had passed", async () => {
  const stream = "grads/open-steps";
  await aggregate({ stream, quorum: 1, deadlineMs: 60_000, maxOpenSteps: 2 });
  for (const step of [0, 1, 2]) await send(stream, step, 0, 2);
  const { mean } = await waitForMean({ gateway: live.url }, stream, 0);
  expect(mean.contributors).toEqual([0]);
  await send(stream, 1, 1, 2);
  expect((await waitForMean({ gateway: live.url }, stream, 1)).mean.contributors).toEqual([0, 1]);
});
