// The resume state of a dataset reader: a small JSON object. sample_in_epoch counts global
// samples (samples the training loop received on one rank x world size), so a job resumes on a
// different world size as long as the global batch is the same (docs/dataset-order.md).
import { z } from "zod";
import { StrataError } from "../errors.ts";
import { parseInput } from "../util/parse-input.ts";
import { MAX_CANONICAL_BUCKETS } from "./epoch-order.ts";

const safeCount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const resumeStateSchema = z.strictObject({
  dataset: z.string().min(1),
  version: safeCount,
  seed: safeCount,
  epoch: safeCount,
  sample_in_epoch: safeCount,
  canonical_buckets: z.number().int().min(1).max(MAX_CANONICAL_BUCKETS),
});

export type ResumeState = z.output<typeof resumeStateSchema>;

/** Validates a resume state; with `expected`, also that it belongs to that dataset version and fits in it. */
export function parseResumeState(value: unknown, expected?: { readonly name: string; readonly version: number; readonly samples: number }): ResumeState {
  const state = parseInput(resumeStateSchema, value, "resume state");
  if (expected !== undefined) {
    if (state.dataset !== expected.name || state.version !== expected.version) {
      throw new StrataError("BAD_REQUEST", `resume state is for dataset ${JSON.stringify(state.dataset)} version ${state.version}, not ${JSON.stringify(expected.name)} version ${expected.version}`);
    }
    if (state.sample_in_epoch > expected.samples) {
      throw new StrataError("BAD_REQUEST", `resume state: sample_in_epoch ${state.sample_in_epoch} is past the version's ${expected.samples} samples`);
    }
  }
  return state;
}
