// TypeScript (core/datasets) and Python (python/strata/order.py) give identical orders: full
// sequences of every reader for random versions, seeds, epochs, buckets, blocks and worlds, run with
// Debian's interpreter through test/helpers/python.ts.
import { expect, test } from "bun:test";
import fc from "fast-check";
import { DatasetOrder, positionsFor, type ReaderPlace } from "../../core/datasets/index.ts";
import { runPython } from "../helpers/python.ts";

interface Case {
  readonly version: { name: string; version: number; samples: number; span_samples: number; partitions: { partition: number; start: number; end: number; samples: number; first_index: number }[] };
  readonly seed: number;
  readonly epoch: number;
  readonly canonical_buckets: number | null;
  readonly block_size: number | null;
  readonly shuffle: boolean;
  readonly readers: { sample_in_epoch: number; rank: number; world_size: number; worker: number; num_workers: number; batch_size: number }[];
}

const PYTHON_ORDERS = `
import json, sys
from strata.order import DatasetOrder, positions_for
out = []
for case in json.load(sys.stdin):
    order = DatasetOrder(case["version"], case["seed"], case["canonical_buckets"], case["shuffle"], case["block_size"]).epoch(case["epoch"])
    out.append([list(positions_for(order, **reader)) for reader in case["readers"]])
json.dump(out, sys.stdout)
`;

function versionOf(partitionSamples: number[], spanSamples: number): Case["version"] {
  let first = 0;
  const partitions = partitionSamples.map((samples, partition) => {
    const p = { partition, start: 7 * partition, end: 7 * partition + samples, samples, first_index: first };
    first += samples;
    return p;
  });
  return { name: "d", version: 3, samples: first, span_samples: spanSamples, partitions };
}

function readersFor(samples: number, resumeAt: number, world: number, workers: number, batch: number): Case["readers"] {
  const sampleInEpoch = samples === 0 ? 0 : resumeAt % (samples + 1);
  const readers: Case["readers"] = [];
  for (let rank = 0; rank < world; rank++) {
    for (let worker = 0; worker < workers; worker++) readers.push({ sample_in_epoch: sampleInEpoch, rank, world_size: world, worker, num_workers: workers, batch_size: batch });
  }
  return readers;
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    partitions: fc.array(fc.integer({ min: 0, max: 2500 }), { minLength: 1, maxLength: 5 }),
    span: fc.integer({ min: 1, max: 400 }),
    seed: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    epoch: fc.integer({ min: 0, max: 2 ** 31 }),
    buckets: fc.option(fc.integer({ min: 1, max: 80 })),
    block: fc.option(fc.integer({ min: 1, max: 700 })),
    shuffle: fc.boolean(),
    resumeAt: fc.nat(),
    world: fc.integer({ min: 1, max: 3 }),
    workers: fc.integer({ min: 1, max: 3 }),
    batch: fc.integer({ min: 1, max: 16 }),
  })
  .map((c) => {
    const version = versionOf(c.partitions, c.span);
    return {
      version,
      seed: c.seed,
      epoch: c.epoch,
      canonical_buckets: c.buckets,
      block_size: c.block,
      shuffle: c.shuffle || c.seed % 4 !== 0,
      readers: readersFor(version.samples, c.resumeAt, c.world, c.workers, c.batch),
    };
  });

function typescriptOrders(cases: Case[]): number[][][] {
  return cases.map((c) => {
    const order = new DatasetOrder(c.version, {
      seed: c.seed,
      shuffle: c.shuffle,
      ...(c.canonical_buckets === null ? {} : { canonicalBuckets: c.canonical_buckets }),
      ...(c.block_size === null ? {} : { blockSize: c.block_size }),
    }).epoch(c.epoch);
    return c.readers.map((r) => {
      const place: ReaderPlace = { sampleInEpoch: r.sample_in_epoch, rank: r.rank, worldSize: r.world_size, worker: r.worker, numWorkers: r.num_workers, batchSize: r.batch_size };
      return [...positionsFor(order, place)];
    });
  });
}

test("TypeScript and Python give identical sequences for random versions, seeds and worlds", () => {
  const cases = fc.sample(caseArb, { numRuns: 40, seed: 20261130 });
  // One larger version on the defaults (C = 64, B = 2 spans), read whole by 1 reader and by 2 x 2.
  const large = versionOf([30_000, 17_011, 0, 22_989], 1000);
  cases.push({ version: large, seed: 1234, epoch: 5, canonical_buckets: null, block_size: null, shuffle: true, readers: [...readersFor(70_000, 0, 1, 1, 1), ...readersFor(70_000, 12_345, 2, 2, 32)] });
  const result = runPython(["-c", PYTHON_ORDERS], { input: JSON.stringify(cases) });
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  const python: unknown = JSON.parse(result.stdout);
  const typescript = typescriptOrders(cases);
  expect(typescript.at(-1)![0]!.length).toBe(70_000);
  expect(python).toEqual(typescript);
});
