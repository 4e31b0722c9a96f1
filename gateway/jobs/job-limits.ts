// Limits of the jobs subsystem (docs/checkpoints.md): one declaration gives each its default,
// unit, range and meaning, like the service limits. Checked at start; enforced at the routes.
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** "jobs/" + job + "/checkpoints" must stay a stream name of at most 200 characters. */
export const MAX_JOB_NAME_LENGTH = 200 - "jobs/".length - "/checkpoints".length;

export const JOB_LIMITS = defineLimits("jobs", {
  defaultKeep: { default: 3, unit: "count", min: 1, max: 10_000, doc: "Complete checkpoints a job keeps when it never set `keep` (PUT /v1/jobs/{job}); older ones are released to artefact GC." },
  maxKeep: { default: 1000, unit: "count", min: 1, max: 10_000, doc: "Largest `keep` a job may set." },
  maxWorldSize: { default: 65_536, unit: "count", min: 1, max: 1_000_000, doc: "Largest world_size a checkpoint rank commit may name." },
  maxStateBytes: { default: 64 * KiB, unit: "bytes", min: 2, max: 4 * MiB, doc: "Most bytes of a rank's `state` object, as compact JSON." },
  maxJobNameLength: { default: 128, unit: "count", min: 1, max: MAX_JOB_NAME_LENGTH, doc: "Longest job name (one segment of the stream-name alphabet: jobs/{job}/checkpoints is its stream)." },
  maxCheckpointIdLength: { default: 128, unit: "count", min: 1, max: 200, doc: "Longest checkpoint id ([a-z0-9][a-z0-9._-]*)." },
  maxOpenCheckpoints: { default: 64, unit: "count", min: 1, max: 100_000, doc: "Most incomplete checkpoints one job may have at once; a commit opening one more is BAD_REQUEST (400)." },
  checkpointTimeoutMs: { default: 30 * 60_000, unit: "ms", min: 1, max: 7 * 24 * 3_600_000, doc: "An incomplete checkpoint whose first rank committed longer ago than this is aborted." },
  sweepIntervalMs: { default: 10_000, unit: "ms", min: 1, max: 3_600_000, doc: "How often the sweeper looks for incomplete checkpoints past checkpointTimeoutMs." },
});

export type JobLimits = LimitValues<typeof JOB_LIMITS.specs>;

export const DEFAULT_JOB_LIMITS: JobLimits = JOB_LIMITS.defaults;
