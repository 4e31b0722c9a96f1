// The jobs API's shapes (docs/checkpoints.md): path parameters and request bodies as zod schemas
// (the one source of their types) and the answers, which clients validate with the same schemas.
// Imports only zod and core: the client library (gateway/client/checkpoints.ts) reads it.
import { z } from "zod";

/** A job name: one segment of the stream-name alphabet, so that jobs/{job}/checkpoints is a stream. */
export const jobNameSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,182}$/, { message: "a job name is 1-183 of a-z 0-9 . _ - (not starting with . _ -)" });
/** A checkpoint id, chosen by the ranks (the same id on every rank of one checkpoint). */
export const checkpointIdSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,199}$/, { message: "a checkpoint id is 1-200 of a-z 0-9 . _ - (not starting with . _ -)" });
const manifestIdSchema = z.string().regex(/^[0-9a-f]{64}$/, { message: "artefact must be a manifest id: 64 lowercase hex characters" });
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** The stream a job's completion records go to, and the one its routes authorise against. */
export function checkpointStreamOf(job: string): string {
  return `jobs/${job}/checkpoints`;
}

/** A JSON object a rank saves with its shard (data-loader state, stream offsets, ...). */
export const rankStateSchema = z.record(z.string(), z.json());
export type RankState = z.output<typeof rankStateSchema>;

export const jobParamsSchema = z.object({ job: jobNameSchema });
export const checkpointParamsSchema = z.object({ job: jobNameSchema, id: checkpointIdSchema });
export const rankParamsSchema = z.object({
  job: jobNameSchema,
  /** "latest" names the newest checkpoint in reads, so it is no checkpoint's id. */
  id: checkpointIdSchema.refine((id) => id !== "latest", { message: 'a checkpoint id cannot be "latest"' }),
  rank: z.string().regex(/^\d{1,9}$/, { message: "rank must be a non-negative integer" }).transform(Number),
});

/** PUT /v1/jobs/{job} */
export const setJobBodySchema = z.strictObject({ keep: z.number({ message: "keep must be an integer >= 1" }).int({ message: "keep must be an integer >= 1" }).min(1, { message: "keep must be an integer >= 1" }) });
export type SetJobBody = z.input<typeof setJobBodySchema>;

/** PUT /v1/jobs/{job}/checkpoints/{id}/ranks/{rank} */
export const commitRankBodySchema = z.strictObject({
  artefact: manifestIdSchema,
  world_size: z.number({ message: "world_size must be an integer >= 1" }).int({ message: "world_size must be an integer >= 1" }).min(1, { message: "world_size must be an integer >= 1" }),
  step: z.number({ message: "step must be a non-negative integer" }).int({ message: "step must be a non-negative integer" }).nonnegative({ message: "step must be a non-negative integer" }).max(Number.MAX_SAFE_INTEGER),
  state: rankStateSchema.optional(),
});
export type CommitRankBody = z.input<typeof commitRankBodySchema>;
export type CommitRankRequest = z.output<typeof commitRankBodySchema>;

/** PUT /v1/jobs/{job} answers; GET /v1/jobs/{job} adds the count of complete checkpoints. */
export const jobKeepSchema = z.object({ job: z.string(), keep: count });
export const jobInfoSchema = z.object({ job: z.string(), keep: count, checkpoints: count });
export type JobInfo = z.output<typeof jobInfoSchema>;
export const jobListSchema = z.object({ jobs: z.array(jobInfoSchema) });

/** The answer of a rank commit: `committed` ranks so far; `complete` once all world_size are in. */
export const commitRankAnswerSchema = z.object({
  job: z.string(),
  id: z.string(),
  rank: count,
  step: count,
  world_size: count,
  committed: count,
  complete: z.boolean(),
});
export type CommitRankAnswer = z.output<typeof commitRankAnswerSchema>;

export const checkpointRankSchema = z.object({ rank: count, artefact: z.string(), state: rankStateSchema.nullable() });
export type CheckpointRank = z.output<typeof checkpointRankSchema>;

/** A complete checkpoint: every rank's shard (a manifest id) and state, sorted by rank; `completed_at` in ms. */
export const checkpointSchema = z.object({
  job: z.string(),
  id: z.string(),
  step: count,
  world_size: count,
  completed_at: count,
  ranks: z.array(checkpointRankSchema),
});
export type Checkpoint = z.output<typeof checkpointSchema>;

/** GET /v1/jobs/{job}/checkpoints: complete ones, newest (highest step, then latest completion) first. */
export const checkpointListSchema = z.object({ job: z.string(), checkpoints: z.array(checkpointSchema) });
export type CheckpointList = z.output<typeof checkpointListSchema>;
