// The test vectors of docs/dataset-order.md, checked against core/datasets (TypeScript) and
// python/strata/order.py (python/tests/test_order.py, run with Debian's interpreter).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { BLOCK_SPANS, DatasetOrder, generatorKey, mix64, positionsFor, PURPOSE, SplitMix64 } from "../../core/datasets/index.ts";
import { ROOT } from "../helpers/gateway.ts";
import { runPython } from "../helpers/python.ts";

const vectorsSchema = z.object({
  splitmix64_state_0: z.array(z.string()),
  key_42_spans_0_0: z.string(),
  key_42_spans_0_0_outputs: z.array(z.string()),
  key_42_spans_0_0_below_10_then_below_1000003: z.array(z.number()),
  version: z.unknown(),
  orders: z.array(z.object({ seed: z.number(), epoch: z.number(), canonical_buckets: z.number(), block_size: z.number(), order: z.array(z.number()) })),
  readers: z.object({
    seed: z.number(),
    epoch: z.number(),
    canonical_buckets: z.number(),
    block_size: z.number(),
    sample_in_epoch: z.number(),
    world_size: z.number(),
    num_workers: z.number(),
    batch_size: z.number(),
    samples: z.array(z.object({ rank: z.number(), worker: z.number(), samples: z.array(z.number()) })),
  }),
});

/** The first ```json block after the "## Test vectors" heading of the doc. */
function docVectors(): z.output<typeof vectorsSchema> {
  const doc = readFileSync(join(ROOT, "docs/dataset-order.md"), "utf8");
  const section = doc.slice(doc.indexOf("## Test vectors"));
  const match = /```json\n([\s\S]*?)\n```/.exec(section);
  if (match === null) throw new Error("docs/dataset-order.md has no json block under Test vectors");
  return vectorsSchema.parse(JSON.parse(match[1]!));
}

const vectors = docVectors();

describe("generator", () => {
  test("SplitMix64 from state 0 gives the reference sequence", () => {
    const g = new SplitMix64(0n);
    expect(vectors.splitmix64_state_0.map(() => g.next().toString())).toEqual(vectors.splitmix64_state_0);
    expect(mix64(0n)).toBe(0xe220a8397b1dcdafn);
  });

  test("seeding by (seed, purpose, a, b), outputs and uniform draws", () => {
    const key = generatorKey(42n, PURPOSE.spans, 0n, 0n);
    expect(key.toString()).toBe(vectors.key_42_spans_0_0);
    const g = new SplitMix64(key);
    expect(vectors.key_42_spans_0_0_outputs.map(() => g.next().toString())).toEqual(vectors.key_42_spans_0_0_outputs);
    const draws = new SplitMix64(key);
    const expected = vectors.key_42_spans_0_0_below_10_then_below_1000003;
    const got = [...expected.slice(0, 10).map(() => draws.below(10)), ...expected.slice(10).map(() => draws.below(1000003))];
    expect(got).toEqual(expected);
  });
});

describe("orders", () => {
  for (const v of vectors.orders) {
    test(`seed ${v.seed} epoch ${v.epoch} C ${v.canonical_buckets} B ${v.block_size}`, () => {
      const order = new DatasetOrder(vectors.version, { seed: v.seed, canonicalBuckets: v.canonical_buckets, blockSize: v.block_size }).epoch(v.epoch);
      expect(Array.from({ length: order.samples }, (_, p) => order.at(p))).toEqual(v.order);
    });
  }

  test("the default C is min(64, spans): the last vector's C is what the default resolves to", () => {
    const last = vectors.orders.at(-1)!;
    expect(new DatasetOrder(vectors.version, { seed: last.seed }).canonicalBuckets).toBe(last.canonical_buckets);
  });

  test("the default B is BLOCK_SPANS × span_samples: the vectors with B = 8 (2 × 4) are the default order", () => {
    const defaults = vectors.orders.filter((v) => v.block_size === 8);
    expect(defaults.length).toBeGreaterThanOrEqual(2);
    for (const v of defaults) {
      const order = new DatasetOrder(vectors.version, { seed: v.seed, canonicalBuckets: v.canonical_buckets }).epoch(v.epoch);
      expect(order.order.blockSize).toBe(BLOCK_SPANS * 4);
      expect(Array.from({ length: order.samples }, (_, p) => order.at(p))).toEqual(v.order);
    }
  });

  test("readers: each (rank, worker) of a resumed 2 x 2 world", () => {
    const r = vectors.readers;
    const order = new DatasetOrder(vectors.version, { seed: r.seed, canonicalBuckets: r.canonical_buckets, blockSize: r.block_size }).epoch(r.epoch);
    for (const reader of r.samples) {
      const place = { sampleInEpoch: r.sample_in_epoch, rank: reader.rank, worldSize: r.world_size, worker: reader.worker, numWorkers: r.num_workers, batchSize: r.batch_size };
      expect([...positionsFor(order, place)]).toEqual(reader.samples);
    }
  });
});

test("python/strata/order.py passes its tests, the doc's vectors among them", () => {
  const result = runPython(["-m", "unittest", "-v", "tests.test_order"], { cwd: join(ROOT, "python") });
  if (result.code !== 0) console.error(result.stdout + result.stderr);
  expect(result.code).toBe(0);
  expect(result.stderr).toContain("test_doc_vectors");
});
