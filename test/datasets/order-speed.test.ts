// Measures the dataset order's cost in TypeScript and Python, side by side in one run (printed as
// a markdown table for docs/dataset-order.md; no timing is asserted): the time to a rank's first
// 1,000 positions and to all positions of an epoch of 1 M samples, and the first 1,000 of 10 M.
import { expect, test } from "bun:test";
import { loadavg } from "node:os";
import { DatasetOrder, positionsFor, type ReaderPlace } from "../../core/datasets/index.ts";
import { python, runPython } from "../helpers/python.ts";

interface Measure {
  readonly label: string;
  readonly samples: number;
  readonly place: ReaderPlace;
  readonly take: number | null;
}

function versionOf(samples: number) {
  const partitions = [0, 1, 2, 3].map((partition) => ({ partition, start: 0, end: samples / 4, samples: samples / 4, first_index: (partition * samples) / 4 }));
  return { name: "speed", version: 1, samples, span_samples: 1000, partitions };
}

const MEASURES: Measure[] = [
  { label: "1 M samples: first 1,000 positions of rank 0 of 8 (worker 0 of 2, batch 32)", samples: 1_000_000, place: { sampleInEpoch: 0, rank: 0, worldSize: 8, worker: 0, numWorkers: 2, batchSize: 32 }, take: 1000 },
  { label: "1 M samples: all positions, world 1 x 1", samples: 1_000_000, place: { sampleInEpoch: 0, rank: 0, worldSize: 1 }, take: null },
  { label: "1 M samples: all positions of rank 3 of 8 (worker 1 of 2, batch 32)", samples: 1_000_000, place: { sampleInEpoch: 0, rank: 3, worldSize: 8, worker: 1, numWorkers: 2, batchSize: 32 }, take: null },
  { label: "10 M samples: first 1,000 positions of rank 0 of 8 (worker 0 of 2, batch 32)", samples: 10_000_000, place: { sampleInEpoch: 0, rank: 0, worldSize: 8, worker: 0, numWorkers: 2, batchSize: 32 }, take: 1000 },
];

const PYTHON_MEASURE = `
import json, sys, time
from strata.order import DatasetOrder, positions_for
out = []
for m in json.load(sys.stdin):
    started = time.perf_counter()
    order = DatasetOrder(m["version"], 17).epoch(0)
    n = 0
    for _ in positions_for(order, **m["place"]):
        n += 1
        if n == m["take"]:
            break
    out.append({"ms": (time.perf_counter() - started) * 1000, "n": n})
json.dump(out, sys.stdout)
`;

function typescriptMeasure(m: Measure): { ms: number; n: number } {
  const started = performance.now();
  const order = new DatasetOrder(versionOf(m.samples), { seed: 17 }).epoch(0);
  let n = 0;
  for (const _ of positionsFor(order, m.place)) if (++n === m.take) break;
  return { ms: performance.now() - started, n };
}

test("order speed, TypeScript and Python side by side", () => {
  const ts = MEASURES.map(typescriptMeasure);
  const input = MEASURES.map((m) => ({
    version: versionOf(m.samples),
    take: m.take,
    place: { sample_in_epoch: m.place.sampleInEpoch, rank: m.place.rank, world_size: m.place.worldSize, worker: m.place.worker ?? 0, num_workers: m.place.numWorkers ?? 1, batch_size: m.place.batchSize ?? 1 },
  }));
  const result = runPython(["-c", PYTHON_MEASURE], { input: JSON.stringify(input), timeoutMs: 600_000 });
  expect(result.code).toBe(0);
  const py = JSON.parse(result.stdout) as { ms: number; n: number }[];
  expect(py.map((p) => p.n)).toEqual(ts.map((t) => t.n));
  const pyVersion = runPython(["-c", "import sys; print(sys.version.split()[0])"]).stdout.trim();
  const rows = MEASURES.map((m, i) => `| ${m.label} | ${ts[i]!.n} | ${ts[i]!.ms.toFixed(0)} ms | ${py[i]!.ms.toFixed(0)} ms |`);
  console.log(
    [
      `Bun ${Bun.version}, Python ${pyVersion} (${python()}), load ${loadavg().map((l) => l.toFixed(2)).join(" ")}, span 1,000 samples, C = 64, B = 2 spans = 2,000`,
      "",
      "| measure | positions | TypeScript | Python |",
      "| --- | ---: | ---: | ---: |",
      ...rows,
    ].join("\n"),
  );
});
