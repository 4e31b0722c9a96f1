// Properties of the dataset order (core/datasets): every sample exactly once, the same global order
// for any world of ranks x DataLoader workers, other seeds and epochs give other orders, exact
// resume on another world size, and clear errors for malformed states and versions.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { DatasetOrder, parseResumeState, positionsFor, rankSampleCount, workerSampleCount, type EpochOrder } from "../../core/datasets/index.ts";
import { StrataError } from "../../core/errors.ts";

function versionOf(partitionSamples: number[], spanSamples: number, name = "d", number = 1) {
  let first = 0;
  const partitions = partitionSamples.map((samples, partition) => {
    const p = { partition, start: 100 * partition, end: 100 * partition + samples, samples, first_index: first };
    first += samples;
    return p;
  });
  return { name, version: number, samples: first, span_samples: spanSamples, partitions };
}

/** What a DataLoader yields for a rank: one batch from each worker in turn, skipping exhausted workers. */
function dataLoaderOutput(order: EpochOrder, sampleInEpoch: number, rank: number, worldSize: number, numWorkers: number, batchSize: number): number[] {
  const batches = Array.from({ length: numWorkers }, (_, worker) => {
    const samples = [...positionsFor(order, { sampleInEpoch, rank, worldSize, worker, numWorkers, batchSize })];
    expect(samples.length).toBe(workerSampleCount(rankSampleCount(order.samples, sampleInEpoch, worldSize), worker, numWorkers, batchSize));
    return Array.from({ length: Math.ceil(samples.length / batchSize) }, (_, i) => samples.slice(i * batchSize, (i + 1) * batchSize));
  });
  const out: number[] = [];
  const steps = Math.max(0, ...batches.map((b) => b.length));
  for (let step = 0; step < steps; step++) for (const b of batches) if (step < b.length) out.push(...b[step]!);
  return out;
}

/** Rank sequences of equal length merged by position (position s + k·R + r was read by rank r). */
function interleave(perRank: number[][]): number[] {
  const out: number[] = [];
  for (let k = 0; k < perRank[0]!.length; k++) for (const rank of perRank) out.push(rank[k]!);
  return out;
}

const versionArb = fc.record({
  partitions: fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 4 }),
  span: fc.integer({ min: 1, max: 50 }),
  seed: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  epoch: fc.integer({ min: 0, max: 1000 }),
  buckets: fc.integer({ min: 1, max: 12 }),
  block: fc.integer({ min: 1, max: 40 }),
});

function orderOf(c: { partitions: number[]; span: number; seed: number; epoch: number; buckets: number; block: number }): EpochOrder {
  return new DatasetOrder(versionOf(c.partitions, c.span), { seed: c.seed, canonicalBuckets: c.buckets, blockSize: c.block }).epoch(c.epoch);
}

describe("the order of an epoch", () => {
  test("holds every sample exactly once (random versions, seeds, epochs, buckets, blocks)", () => {
    fc.assert(
      fc.property(versionArb, (c) => {
        const order = orderOf(c);
        const seen = [...positionsFor(order, { sampleInEpoch: 0, rank: 0, worldSize: 1 })].sort((a, b) => a - b);
        expect(seen).toEqual(Array.from({ length: order.samples }, (_, i) => i));
      }),
      { numRuns: 200 },
    );
  });

  test("world 1 x 1 and 2 ranks x 2 workers yield the same global order, interleaved by position", () => {
    fc.assert(
      fc.property(versionArb, fc.integer({ min: 1, max: 9 }), (c, batchSize) => {
        const order = orderOf(c);
        const single = [...positionsFor(order, { sampleInEpoch: 0, rank: 0, worldSize: 1 })];
        const perRank = [0, 1].map((rank) => dataLoaderOutput(order, 0, rank, 2, 2, batchSize));
        expect(interleave(perRank)).toEqual(single.slice(0, 2 * Math.floor(single.length / 2)));
      }),
      { numRuns: 100 },
    );
  });

  test("other seeds and epochs give other orders; the same ones give the same", () => {
    const version = versionOf([1000, 371, 0, 629], 64);
    const seq = (seed: number, epoch: number) => {
      const order = new DatasetOrder(version, { seed }).epoch(epoch);
      return Array.from({ length: order.samples }, (_, p) => order.at(p));
    };
    const base = seq(5, 0);
    expect(seq(5, 0)).toEqual(base);
    expect(seq(6, 0)).not.toEqual(base);
    expect(seq(5, 1)).not.toEqual(base);
    expect(seq(6, 1)).not.toEqual(seq(5, 1));
  });

  test("shuffle: false is the identity in every epoch", () => {
    const order = new DatasetOrder(versionOf([10, 5], 3), { seed: 9, shuffle: false }).epoch(4);
    expect([...positionsFor(order, { sampleInEpoch: 0, rank: 0, worldSize: 1 })]).toEqual(Array.from({ length: 15 }, (_, i) => i));
  });

  test("an empty version has an empty order", () => {
    const order = new DatasetOrder(versionOf([0, 0], 4), { seed: 1 }).epoch(0);
    expect([...positionsFor(order, { sampleInEpoch: 0, rank: 0, worldSize: 2 })]).toEqual([]);
  });
});

describe("resume", () => {
  test("a state saved mid-epoch resumes with exactly the remaining samples, also on another world size", () => {
    fc.assert(
      fc.property(versionArb, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.nat(), fc.integer({ min: 1, max: 5 }), (c, worldBefore, worldAfter, progress, batchSize) => {
        const order = orderOf(c);
        const single = [...positionsFor(order, { sampleInEpoch: 0, rank: 0, worldSize: 1 })];
        // The loop received `received` samples on each rank before the save.
        const received = progress % (rankSampleCount(order.samples, 0, worldBefore) + 1);
        const before = Array.from({ length: worldBefore }, (_, rank) => dataLoaderOutput(order, 0, rank, worldBefore, 2, batchSize).slice(0, received));
        const state = parseResumeState(
          { dataset: "d", version: 1, seed: c.seed, epoch: c.epoch, sample_in_epoch: received * worldBefore, canonical_buckets: c.buckets },
          { name: "d", version: 1, samples: order.samples },
        );
        const after = Array.from({ length: worldAfter }, (_, rank) => dataLoaderOutput(order, state.sample_in_epoch, rank, worldAfter, 3, batchSize));
        const consumed = interleave(before);
        const rest = interleave(after);
        expect(consumed).toEqual(single.slice(0, state.sample_in_epoch));
        expect(rest).toEqual(single.slice(state.sample_in_epoch, state.sample_in_epoch + rest.length));
        expect(order.samples - state.sample_in_epoch - rest.length).toBeLessThan(worldAfter);
      }),
      { numRuns: 150 },
    );
  });

  const good = { dataset: "d", version: 1, seed: 0, epoch: 0, sample_in_epoch: 10, canonical_buckets: 64 };
  const expected = { name: "d", version: 1, samples: 100 };

  function refusal(state: unknown): StrataError {
    try {
      parseResumeState(state, expected);
    } catch (e) {
      if (e instanceof StrataError) return e;
      throw e;
    }
    throw new Error(`accepted ${JSON.stringify(state)}`);
  }

  test("a valid state is accepted as it is", () => {
    expect(parseResumeState({ ...good }, expected)).toEqual(good);
  });

  test("a state from another dataset or version: BAD_REQUEST naming both", () => {
    const other = refusal({ ...good, dataset: "other" });
    expect(other.code).toBe("BAD_REQUEST");
    expect(other.message).toBe('resume state is for dataset "other" version 1, not "d" version 1');
    expect(refusal({ ...good, version: 2 }).message).toBe('resume state is for dataset "d" version 2, not "d" version 1');
  });

  test("malformed states: BAD_REQUEST naming the field", () => {
    const cases: [unknown, string][] = [
      ["nope", "resume state"],
      [{ ...good, epoch: undefined }, "epoch"],
      [{ ...good, epoch: -1 }, "epoch"],
      [{ ...good, seed: "7" }, "seed"],
      [{ ...good, sample_in_epoch: 1.5 }, "sample_in_epoch"],
      [{ ...good, canonical_buckets: 0 }, "canonical_buckets"],
      [{ ...good, extra: 1 }, "extra"],
      [{ ...good, sample_in_epoch: 101 }, "past the version's 100 samples"],
    ];
    for (const [state, field] of cases) {
      const e = refusal(state);
      expect(e.code).toBe("BAD_REQUEST");
      expect(e.message).toContain(field);
    }
  });

  test("a malformed version or reader place: BAD_REQUEST", () => {
    const bad = { ...versionOf([5, 5], 2), samples: 11 };
    expect(() => new DatasetOrder(bad, { seed: 0 })).toThrow("partitions hold 10 samples, the version says 11");
    const gap = versionOf([5, 5], 2);
    gap.partitions[1]!.first_index = 6;
    expect(() => new DatasetOrder(gap, { seed: 0 })).toThrow("expected 5");
    const order = new DatasetOrder(versionOf([5], 2), { seed: 0 }).epoch(0);
    expect(() => [...positionsFor(order, { sampleInEpoch: 0, rank: 2, worldSize: 2 })]).toThrow("rank must be in [0, 2)");
    expect(() => [...positionsFor(order, { sampleInEpoch: 6, rank: 0, worldSize: 1 })]).toThrow("sample_in_epoch must be in [0, 5]");
    expect(() => order.at(5)).toThrow("outside the epoch");
  });
});
