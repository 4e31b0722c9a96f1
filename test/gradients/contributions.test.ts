// POST /v1/gradients/{stream}/steps/{step} against a real gateway: the first contribution fixes
// the step's signature, later ones that differ are TENSOR_MISMATCH and append nothing, repeats
// answer the first offset, a different payload for the same rank is GRADIENT_CONFLICT, bad input
// is 400 naming the field.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { contribute, f32Tensor, jsonTensor, readAll } from "./gradient-fixtures.ts";

let live: LiveGateway;
beforeAll(async () => {
  live = await liveGateway();
});
afterAll(async () => {
  await live.close();
});

const w = (values: number[]) => ({ w: f32Tensor([2, 2], values), b: f32Tensor([2], values.slice(0, 2)) });

test("an accepted contribution is one record keyed by its step in the gradient stream", async () => {
  const answer = await contribute(live.url, "grads/a", 7, { rank: 1, world_size: 3, tensors: w([1, 2, 3, 4]) });
  expect(answer.status).toBe(200);
  expect(answer.body).toEqual({ stream: "grads/a", step: 7, rank: 1, partition: 0, offset: 0 });
  const records = await readAll(live.url, "grads/a");
  expect(records.length).toBe(1);
  expect(atob(records[0]!.key!.$base64)).toBe("7");
  expect(records[0]!.fields).toMatchObject({ step: 7, rank: 1, world_size: 3 });
  expect(Object.keys(records[0]!.fields.tensors as object).sort()).toEqual(["b", "w"]);
});

test("a contribution that differs from the step's signature is TENSOR_MISMATCH naming the tensor, and nothing is appended", async () => {
  const stream = "grads/mismatch";
  expect((await contribute(live.url, stream, 0, { rank: 0, world_size: 4, tensors: w([1, 2, 3, 4]) })).status).toBe(200);
  const cases: [unknown, RegExp][] = [
    [{ rank: 1, world_size: 4, tensors: { w: f32Tensor([4], [1, 2, 3, 4]), b: f32Tensor([2], [1, 2]) } }, /tensor "w" has shape \[4\], the step's is \[2, 2\]/],
    [{ rank: 1, world_size: 4, tensors: { w: jsonTensor("F16", [2, 2], new Uint8Array(8)), b: f32Tensor([2], [1, 2]) } }, /tensor "w" has dtype F16, the step's is F32/],
    [{ rank: 1, world_size: 4, tensors: { ...w([1, 2, 3, 4]), extra: f32Tensor([1], [1]) } }, /tensor "extra" is not in the step's signature/],
    [{ rank: 1, world_size: 4, tensors: { w: f32Tensor([2, 2], [1, 2, 3, 4]) } }, /tensor "b" is missing/],
    [{ rank: 1, world_size: 5, tensors: w([1, 2, 3, 4]) }, /world_size is 5, the step's is 4/],
  ];
  for (const [body, message] of cases) {
    const answer = await contribute(live.url, stream, 0, body);
    expect(answer.status).toBe(400);
    expect(answer.body.error?.code).toBe("TENSOR_MISMATCH");
    expect(answer.body.error?.message).toMatch(message);
  }
  expect((await readAll(live.url, stream)).length).toBe(1);
  // The refused rank may still contribute the right thing.
  expect((await contribute(live.url, stream, 0, { rank: 1, world_size: 4, tensors: w([5, 6, 7, 8]) })).body.offset).toBe(1);
});

test("a repeated contribution answers the first offset; a different payload for the same rank is GRADIENT_CONFLICT", async () => {
  const stream = "grads/repeat";
  const body = { rank: 2, world_size: 3, tensors: w([1, 2, 3, 4]) };
  const first = await contribute(live.url, stream, 3, body);
  const again = await contribute(live.url, stream, 3, body);
  expect(again).toEqual(first);
  const conflict = await contribute(live.url, stream, 3, { ...body, tensors: w([9, 9, 9, 9]) });
  expect(conflict.status).toBe(409);
  expect(conflict.body.error?.code).toBe("GRADIENT_CONFLICT");
  expect((await readAll(live.url, stream)).length).toBe(1);
  const metrics = await (await fetch(`${live.url}/metrics`)).text();
  for (const [result, n] of [["accepted", 1], ["repeated", 1], ["conflict", 1]] as const) {
    expect(metrics).toContain(`strata_gradient_contributions_total{stream="${stream}",result="${result}"} ${n}`);
  }
  expect(metrics).toContain(`strata_gradient_contributed_bytes_total{stream="${stream}"} 24`);
});

test("bad input is 400 naming the field and changes nothing", async () => {
  const stream = "grads/bad";
  const cases: [unknown, number | string, RegExp][] = [
    [{ world_size: 2, tensors: w([1, 2, 3, 4]) }, 0, /rank/],
    [{ rank: 0, world_size: 0, tensors: w([1, 2, 3, 4]) }, 0, /world_size must be at least 1/],
    [{ rank: 2, world_size: 2, tensors: w([1, 2, 3, 4]) }, 0, /rank 2 must be less than world_size 2/],
    [{ rank: 0, world_size: 2, tensors: {} }, 0, /tensors must name at least one tensor/],
    [{ rank: 0, world_size: 2, tensors: { w: [1, 2] } }, 0, /tensors\.w must be a tensor/],
    [{ rank: 0, world_size: 2, tensors: Object.fromEntries([["__proto__", f32Tensor([1], [1])]]) }, 0, /the name __proto__ is not allowed/],
    [{ rank: 0, world_size: 2, tensors: { w: jsonTensor("I32", [1], new Uint8Array(4)) } }, 0, /tensors\.w: dtype I32 is not a gradient dtype/],
    [{ rank: 0, world_size: 2, tensors: { w: jsonTensor("F32", [2], new Uint8Array(4)) } }, 0, /tensors\.w: tensor data is 4 bytes/],
    [{ rank: 0, world_size: 2, tensors: w([1, 2, 3, 4]) }, "-1", /step must be a non-negative integer/],
    [{ rank: 0, world_size: 2, tensors: w([1, 2, 3, 4]) }, "x", /step must be a non-negative integer/],
    [{ rank: 0, world_size: 1_000_000, tensors: w([1, 2, 3, 4]) }, 0, /world_size 1000000 is over gradients.maxWorldSize/],
  ];
  for (const [body, step, message] of cases) {
    const answer = await contribute(live.url, stream, step, body);
    expect(answer.status).toBe(400);
    expect(answer.body.error?.message).toMatch(message);
  }
  expect(await readAll(live.url, stream)).toEqual([]);
  // No signature was fixed by a refused body: another shape is the step's first.
  expect((await contribute(live.url, stream, 0, { rank: 0, world_size: 2, tensors: { x: f32Tensor([1], [1]) } })).status).toBe(200);
});
