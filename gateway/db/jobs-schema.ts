// Metadata tables of the jobs subsystem: training jobs and their all-or-none checkpoints
// (re-exported by schema.ts; migration 0006_jobs.sql). A checkpoint row moves through
// open -> complete | aborted and complete -> released (gateway/jobs/checkpoint-state.ts); an
// ended (aborted or released) one keeps its row, without its rank rows, so that its id is never
// reused: a rank committing to it is refused rather than silently starting a new checkpoint.
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** A training job: how many complete checkpoints it keeps. */
export const jobs = sqliteTable("jobs", {
  name: text("name").primaryKey(),
  keep: integer("keep").notNull(),
  createdAt: integer("created_at").notNull(),
});

/**
 * One checkpoint of a job. `state`: open | complete | aborted | released. `created_at` is its
 * first rank commit (the abort timeout counts from it); `completed_at` the commit of its last
 * rank; `ended_at` its abort or release. `record_partition`/`record_offset` locate its completion
 * record on jobs/{job}/checkpoints once published (null: not yet, published again at start).
 */
export const checkpoints = sqliteTable(
  "checkpoints",
  {
    job: text("job").notNull(),
    id: text("id").notNull(),
    step: integer("step").notNull(),
    worldSize: integer("world_size").notNull(),
    state: text("state").notNull(),
    createdAt: integer("created_at").notNull(),
    completedAt: integer("completed_at"),
    endedAt: integer("ended_at"),
    recordPartition: integer("record_partition"),
    recordOffset: integer("record_offset"),
  },
  (t) => [primaryKey({ columns: [t.job, t.id] }), index("checkpoints_state").on(t.state)],
);

/** A rank's committed shard: its artefact (a manifest id) and its state (a JSON object, or null). */
export const checkpointRanks = sqliteTable(
  "checkpoint_ranks",
  {
    job: text("job").notNull(),
    id: text("id").notNull(),
    rank: integer("rank").notNull(),
    artefact: text("artefact").notNull(),
    state: text("state"),
    committedAt: integer("committed_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.job, t.id, t.rank] })],
);
