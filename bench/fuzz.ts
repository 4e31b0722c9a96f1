// Fuzzes every decoder that reads network or disk bytes (test/fuzz/targets.ts) with generated
// inputs, in process, and prints per decoder: inputs, accepted, refused (a 4xx StrataError),
// failures (anything else, or an accepted input that cannot be read back) and inputs/s.
//   bun bench/fuzz.ts [--total N] [--seed S]     default 1,080,000 inputs in all
// Exits 1 if any input failed, after printing the first input of each distinct failure.
import { cpus, loadavg } from "node:os";
import fc from "fast-check";
import { outcomeOf } from "../test/fuzz/outcome.ts";
import { TARGETS, type FuzzCase } from "../test/fuzz/targets.ts";

const BATCH = 10_000;
/** Distinct failures shown per decoder (a failure is told apart by its message's first words). */
const MAX_SHOWN = 5;

interface Row {
  readonly name: string;
  inputs: number;
  accepted: number;
  refused: number;
  failed: number;
  seconds: number;
  readonly failures: Map<string, unknown>;
}

function option(argv: readonly string[], name: string, fallback: number): number {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(argv[i + 1]);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} needs a positive integer, got ${argv[i + 1]}`);
  return n;
}

/** A printable form of a failing input: bytes as hex, cut short. */
function show(input: unknown): string {
  const text = JSON.stringify(input, (_key, v: unknown) => (v instanceof Uint8Array ? `hex:${Buffer.from(v).toString("hex")}` : typeof v === "bigint" ? `${v}n` : v)) ?? String(input);
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

function fuzz(cases: fc.Arbitrary<FuzzCase>, name: string, inputs: number, seed: number): Row {
  const row: Row = { name, inputs: 0, accepted: 0, refused: 0, failed: 0, seconds: 0, failures: new Map() };
  const started = performance.now();
  for (let batch = 0; row.inputs < inputs; batch++) {
    for (const fuzzCase of fc.sample(cases, { numRuns: Math.min(BATCH, inputs - row.inputs), seed: seed + batch })) {
      row.inputs++;
      const outcome = outcomeOf(() => fuzzCase.run());
      if (outcome.kind === "accepted") row.accepted++;
      else if (outcome.kind === "refused") row.refused++;
      else {
        row.failed++;
        const key = outcome.reason.slice(0, 80);
        if (row.failures.size < MAX_SHOWN && !row.failures.has(key)) row.failures.set(key, fuzzCase.input);
      }
    }
  }
  row.seconds = (performance.now() - started) / 1000;
  return row;
}

function main(argv: readonly string[]): number {
  const total = option(argv, "--total", 1_080_000);
  const seed = option(argv, "--seed", 1);
  const perTarget = Math.ceil(total / TARGETS.length);
  const load = loadavg().map((l) => l.toFixed(2)).join(" ");
  const rows = TARGETS.map((t) => {
    const row = fuzz(t.cases, t.name, perTarget, seed);
    console.error(`${t.name}: ${row.inputs} inputs, ${row.failed} failed, ${row.seconds.toFixed(1)} s`);
    return row;
  });
  const all = rows.reduce((n, r) => n + r.inputs, 0);
  const failed = rows.reduce((n, r) => n + r.failed, 0);
  const seconds = rows.reduce((n, r) => n + r.seconds, 0);
  console.log(`${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}); load average at start ${load}, at end ${loadavg().map((l) => l.toFixed(2)).join(" ")}; seed ${seed}\n`);
  console.log("| decoder | inputs | accepted | refused (4xx) | failures | inputs/s |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) console.log(`| ${r.name} | ${r.inputs.toLocaleString("en")} | ${r.accepted.toLocaleString("en")} | ${r.refused.toLocaleString("en")} | ${r.failed} | ${Math.round(r.inputs / r.seconds).toLocaleString("en")} |`);
  console.log(`| **all** | **${all.toLocaleString("en")}** | | | **${failed}** | ${Math.round(all / seconds).toLocaleString("en")} |`);
  for (const r of rows) {
    for (const [reason, input] of r.failures) console.log(`\n- ${r.name}: ${reason}\n  input: \`${show(input)}\``);
  }
  return failed > 0 ? 1 : 0;
}

process.exit(main(process.argv.slice(2)));
