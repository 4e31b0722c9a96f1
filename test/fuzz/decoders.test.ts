// A sample of the decoder fuzzing that bench/fuzz.ts runs a million times: every decoder that
// reads network or disk bytes either accepts an input or refuses it with a 4xx StrataError, and
// what it accepts can be read back (test/fuzz/targets.ts). Seeded, so a failure reproduces; set
// STRATA_FUZZ_SEED to explore other inputs.
import { expect, test } from "bun:test";
import fc from "fast-check";
import { outcomeOf } from "./outcome.ts";
import { TARGETS } from "./targets.ts";

const RUNS_PER_DECODER = 3000;
const seed = Number(process.env.STRATA_FUZZ_SEED ?? 20261130);

for (const target of TARGETS) {
  test(`fuzz ${target.name}: ${target.reads}: only 4xx refusals, accepted inputs read back`, () => {
    let accepted = 0;
    fc.assert(
      fc.property(target.cases, (fuzzCase) => {
        const outcome = outcomeOf(() => fuzzCase.run());
        if (outcome.kind === "failed") throw new Error(outcome.reason);
        if (outcome.kind === "accepted") accepted++;
      }),
      { numRuns: RUNS_PER_DECODER, seed },
    );
    // The generators are meant to reach the end of the decoder, not only its first check.
    expect(accepted).toBeGreaterThan(0);
  });
}
