// The jobs tables: live checkpoints (open and complete, with their ranks) are read back whole at
// start; every state change is one transaction, so a rank row and the flip to complete that it
// causes, or a release and the removal of its record's artefact refs, land together or not at all.
import { and, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import { StrataError } from "../../core/errors.ts";
import type { MetadataDb } from "../db/database.ts";
import { checkpointRanks, checkpoints, jobs, manifestRefs } from "../db/schema.ts";
import { assertCheckpoint, type CheckpointEntry, type CheckpointKind, type RankCommit, type RecordPosition } from "./checkpoint-state.ts";
import { checkpointStreamOf, rankStateSchema, type RankState } from "./job-wire.ts";

type Tx = Parameters<Parameters<MetadataDb["transaction"]>[0]>[0];

export interface JobRow {
  readonly name: string;
  readonly keep: number;
  readonly createdAt: number;
}

const kindSchema = z.enum(["open", "complete", "aborted", "released"]);

/** What one rank commit writes: the rank, the checkpoint's new state, and what it releases. */
export interface RankWrite {
  readonly job: JobRow;
  /** The job row is new: insert it (a job comes into being at its first rank commit). */
  readonly newJob: boolean;
  readonly before: CheckpointEntry | undefined;
  readonly after: CheckpointEntry;
  readonly commit: RankCommit;
  readonly releases: readonly CheckpointEntry[];
}

export class JobStore {
  constructor(private readonly db: MetadataDb) {}

  async loadJobs(): Promise<JobRow[]> {
    return this.db.select().from(jobs).orderBy(jobs.name);
  }

  /** Every open and complete checkpoint, with its ranks. */
  async loadLive(): Promise<CheckpointEntry[]> {
    const rows = await this.db.select().from(checkpoints).where(inArray(checkpoints.state, ["open", "complete"]));
    const ranks = await this.db.select().from(checkpointRanks).orderBy(checkpointRanks.job, checkpointRanks.id, checkpointRanks.rank);
    const byCheckpoint = new Map<string, RankCommit[]>();
    for (const r of ranks) {
      const key = checkpointKey(r.job, r.id);
      const list = byCheckpoint.get(key) ?? [];
      list.push({ rank: r.rank, artefact: r.artefact, state: parseState(r.state), committedAt: r.committedAt });
      byCheckpoint.set(key, list);
    }
    return rows.map((row) => {
      const commits = byCheckpoint.get(checkpointKey(row.job, row.id)) ?? [];
      const base = { job: row.job, id: row.id, step: row.step, worldSize: row.worldSize, createdAt: row.createdAt };
      const kind = kindSchema.parse(row.state);
      if (kind === "open") return assertCheckpoint({ ...base, state: { kind, ranks: new Map(commits.map((c) => [c.rank, c])) } });
      if (row.completedAt === null) throw new StrataError("CORRUPT_DATA", `checkpoint ${row.job}/${row.id} is complete without a completion time`);
      const record = row.recordPartition === null || row.recordOffset === null ? null : { partition: row.recordPartition, offset: row.recordOffset };
      return assertCheckpoint({ ...base, state: { kind: "complete", ranks: commits, completedAt: row.completedAt, record } });
    });
  }

  /** The state of a checkpoint that ended (aborted or released), or undefined. */
  async endedKind(job: string, id: string): Promise<CheckpointKind | undefined> {
    const rows = await this.db.select({ state: checkpoints.state }).from(checkpoints).where(and(eq(checkpoints.job, job), eq(checkpoints.id, id)));
    const row = rows[0];
    return row === undefined ? undefined : kindSchema.parse(row.state);
  }

  /** A rank row, the checkpoint's row (new, or flipped to complete) and the releases its completion causes, in one transaction. */
  async writeRank(write: RankWrite): Promise<void> {
    const { job, after, commit } = write;
    await this.db.transaction(async (tx) => {
      if (write.newJob) await tx.insert(jobs).values(job);
      if (write.before === undefined) {
        await tx.insert(checkpoints).values({ job: job.name, id: after.id, step: after.step, worldSize: after.worldSize, state: "open", createdAt: after.createdAt });
      }
      await tx.insert(checkpointRanks).values({ job: job.name, id: after.id, rank: commit.rank, artefact: commit.artefact, state: commit.state === null ? null : JSON.stringify(commit.state), committedAt: commit.committedAt });
      if (after.state.kind === "complete") {
        await tx.update(checkpoints).set({ state: "complete", completedAt: after.state.completedAt }).where(and(eq(checkpoints.job, job.name), eq(checkpoints.id, after.id)));
      }
      await releaseIn(tx, write.releases);
    });
  }

  /** Sets (or creates) a job's keep and releases what it no longer keeps, in one transaction. */
  async writeKeep(job: JobRow, releases: readonly CheckpointEntry[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.insert(jobs).values(job).onConflictDoUpdate({ target: jobs.name, set: { keep: job.keep } });
      await releaseIn(tx, releases);
    });
  }

  /** Marks an open checkpoint aborted and drops its ranks. */
  async abort(entry: CheckpointEntry): Promise<void> {
    const at = entry.state.kind === "aborted" ? entry.state.at : undefined;
    if (at === undefined) throw new StrataError("INTERNAL", `checkpoint ${entry.job}/${entry.id} stored as aborted while ${entry.state.kind}`);
    await this.db.transaction(async (tx) => {
      await tx.update(checkpoints).set({ state: "aborted", endedAt: at }).where(and(eq(checkpoints.job, entry.job), eq(checkpoints.id, entry.id), eq(checkpoints.state, "open")));
      await tx.delete(checkpointRanks).where(and(eq(checkpointRanks.job, entry.job), eq(checkpointRanks.id, entry.id)));
    });
  }

  async markPublished(job: string, id: string, record: RecordPosition): Promise<void> {
    await this.db.update(checkpoints).set({ recordPartition: record.partition, recordOffset: record.offset }).where(and(eq(checkpoints.job, job), eq(checkpoints.id, id)));
  }
}

/**
 * Released checkpoints: state released, rank rows gone, and the artefact refs of their
 * completion record dropped from manifest_refs, so that GC no longer sees their shards as live
 * (the record stays on the stream; its refs may then dangle, docs/checkpoints.md).
 */
async function releaseIn(tx: Tx, releases: readonly CheckpointEntry[]): Promise<void> {
  for (const entry of releases) {
    const state = entry.state;
    if (state.kind !== "released") throw new StrataError("INTERNAL", `checkpoint ${entry.job}/${entry.id} stored as released while ${state.kind}`);
    await tx.update(checkpoints).set({ state: "released", endedAt: state.at }).where(and(eq(checkpoints.job, entry.job), eq(checkpoints.id, entry.id)));
    await tx.delete(checkpointRanks).where(and(eq(checkpointRanks.job, entry.job), eq(checkpointRanks.id, entry.id)));
    if (state.record !== null) {
      await tx
        .delete(manifestRefs)
        .where(and(eq(manifestRefs.stream, checkpointStreamOf(entry.job)), eq(manifestRefs.partition, state.record.partition), eq(manifestRefs.offset, state.record.offset)));
    }
  }
}

export function checkpointKey(job: string, id: string): string {
  return `${job}\u0000${id}`;
}

function parseState(text: string | null): RankState | null {
  if (text === null) return null;
  const parsed = rankStateSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new StrataError("CORRUPT_DATA", `a checkpoint rank's state is not a JSON object: ${text.slice(0, 80)}`);
  return parsed.data;
}
