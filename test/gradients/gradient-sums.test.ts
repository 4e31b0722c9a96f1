// The aggregator's f32 sums: for any contributions, the mean equals the reference (f32 sums in
// arrival order, divided in f32); F16 and BF16 means are the f32 mean rounded to the dtype.
import { expect, test } from "bun:test";
import fc from "fast-check";
import { convertFloat } from "../../core/tensors/dtype.ts";
import { TensorSums } from "../../gateway/client/gradient-sums.ts";
import { referenceMean, tensorOf, valuesOf } from "./gradient-fixtures.ts";

const f32 = fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).map(Math.fround);

test("the mean of any contributions equals the f32 reference", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 8 }), fc.infiniteStream(f32), (length, count, values) => {
      const contributions = Array.from({ length: count }, () => Array.from({ length }, () => values.next().value as number));
      const sums = TensorSums.of({ g: tensorOf("F32", [length], contributions[0]!) });
      for (const c of contributions.slice(1)) sums.add({ g: tensorOf("F32", [length], c) });
      expect(valuesOf(sums.mean(count).g!)).toEqual(referenceMean(contributions));
    }),
  );
});

test("F16 and BF16 contributions are widened, summed in f32, and the mean rounded back to their dtype", () => {
  for (const dtype of ["F16", "BF16"] as const) {
    fc.assert(
      fc.property(fc.array(fc.array(fc.float({ noNaN: true, min: -1000, max: 1000 }), { minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 6 }), (raw) => {
        const tensors = raw.map((values) => tensorOf(dtype, [4], values));
        const widened = tensors.map(valuesOf);
        const sums = TensorSums.of({ g: tensors[0]! });
        for (const t of tensors.slice(1)) sums.add({ g: t });
        const mean = sums.mean(tensors.length).g!;
        expect(mean.dtype).toBe(dtype);
        const expected = convertFloat(new Uint8Array(Float32Array.from(referenceMean(widened)).buffer), "F32", dtype);
        expect([...mean.data]).toEqual([...expected]);
      }),
    );
  }
});

test("a contribution of other names, dtypes or shapes is named as a mismatch and adds nothing", () => {
  const sums = TensorSums.of({ a: tensorOf("F32", [2], [1, 2]), b: tensorOf("F16", [1], [1]) });
  expect(sums.mismatch({ a: tensorOf("F32", [2], [1, 2]), b: tensorOf("F16", [1], [1]) })).toBeNull();
  expect(sums.mismatch({ a: tensorOf("F32", [1, 2], [1, 2]), b: tensorOf("F16", [1], [1]) })).toMatch(/"a" has shape \[1, 2\]/);
  expect(sums.mismatch({ a: tensorOf("F32", [2], [1, 2]), b: tensorOf("BF16", [1], [1]) })).toMatch(/"b" has dtype BF16/);
  expect(sums.mismatch({ a: tensorOf("F32", [2], [1, 2]), c: tensorOf("F16", [1], [1]) })).toMatch(/"c" is not in the step/);
  expect(sums.mismatch({ a: tensorOf("F32", [2], [1, 2]) })).toMatch(/1 tensors, the step has 2/);
  expect(sums.addSums(TensorSums.of({ a: tensorOf("F32", [2], [5, 5]) }))).toMatch(/1 tensors/);
  expect(valuesOf(sums.mean(1).a!)).toEqual([1, 2]);
});
