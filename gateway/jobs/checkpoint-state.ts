// The life of one checkpoint, as an explicit state machine:
//   open --(last rank commits)--> complete --(beyond the job's keep)--> released
//   open --(older than the timeout)--> aborted
// Transitions are pure functions that assert their preconditions and the invariants of the
// state they produce (a violation is a bug: INTERNAL), so the service and the store can only
// move a checkpoint along these edges.
import { invariant } from "../../core/errors.ts";
import type { RankState } from "./job-wire.ts";

/** One rank's committed shard. */
export interface RankCommit {
  readonly rank: number;
  /** The manifest id of the shard's artefact. */
  readonly artefact: string;
  readonly state: RankState | null;
  readonly committedAt: number;
}

/** Where a completion record landed on jobs/{job}/checkpoints. */
export interface RecordPosition {
  readonly partition: number;
  readonly offset: number;
}

export type CheckpointState =
  | { readonly kind: "open"; readonly ranks: ReadonlyMap<number, RankCommit> }
  /** `record` is null until the completion record is published. */
  | { readonly kind: "complete"; readonly ranks: readonly RankCommit[]; readonly completedAt: number; readonly record: RecordPosition | null }
  | { readonly kind: "aborted"; readonly at: number }
  | { readonly kind: "released"; readonly at: number; readonly record: RecordPosition | null };

export type CheckpointKind = CheckpointState["kind"];

export interface CheckpointEntry {
  readonly job: string;
  readonly id: string;
  readonly step: number;
  readonly worldSize: number;
  /** The first rank commit: the abort timeout counts from it. */
  readonly createdAt: number;
  readonly state: CheckpointState;
}

export function assertCheckpoint(entry: CheckpointEntry): CheckpointEntry {
  const where = `checkpoint ${entry.job}/${entry.id}`;
  invariant(Number.isSafeInteger(entry.worldSize) && entry.worldSize >= 1, `${where}: world size ${entry.worldSize}`);
  invariant(Number.isSafeInteger(entry.step) && entry.step >= 0, `${where}: step ${entry.step}`);
  const state = entry.state;
  switch (state.kind) {
    case "open":
      invariant(state.ranks.size >= 1 && state.ranks.size < entry.worldSize, `${where}: open with ${state.ranks.size} of ${entry.worldSize} ranks`);
      for (const [rank, commit] of state.ranks) invariant(rank === commit.rank && rank >= 0 && rank < entry.worldSize, `${where}: rank ${rank} out of [0, ${entry.worldSize})`);
      break;
    case "complete":
      invariant(state.ranks.length === entry.worldSize, `${where}: complete with ${state.ranks.length} of ${entry.worldSize} ranks`);
      state.ranks.forEach((commit, i) => invariant(commit.rank === i, `${where}: complete ranks not exactly 0..${entry.worldSize - 1}`));
      invariant(state.completedAt >= entry.createdAt, `${where}: completed before it was opened`);
      break;
    case "aborted":
    case "released":
      break;
  }
  return entry;
}

/** A checkpoint opened by its first rank commit (complete at once when world_size is 1). */
export function openCheckpoint(job: string, id: string, step: number, worldSize: number, first: RankCommit): CheckpointEntry {
  const entry: CheckpointEntry = { job, id, step, worldSize, createdAt: first.committedAt, state: { kind: "open", ranks: new Map() } };
  return addRank(entry, first);
}

/** The checkpoint with one more rank; the last one makes it complete. */
export function addRank(entry: CheckpointEntry, commit: RankCommit): CheckpointEntry {
  const state = entry.state;
  invariant(state.kind === "open", `checkpoint ${entry.job}/${entry.id}: a rank added while ${state.kind}`);
  invariant(!state.ranks.has(commit.rank), `checkpoint ${entry.job}/${entry.id}: rank ${commit.rank} added twice`);
  invariant(Number.isSafeInteger(commit.rank) && commit.rank >= 0 && commit.rank < entry.worldSize, `checkpoint ${entry.job}/${entry.id}: rank ${commit.rank} out of [0, ${entry.worldSize})`);
  const ranks = new Map(state.ranks).set(commit.rank, commit);
  if (ranks.size < entry.worldSize) return assertCheckpoint({ ...entry, state: { kind: "open", ranks } });
  const sorted = [...ranks.values()].sort((a, b) => a.rank - b.rank);
  return assertCheckpoint({ ...entry, state: { kind: "complete", ranks: sorted, completedAt: commit.committedAt, record: null } });
}

export function abortCheckpoint(entry: CheckpointEntry, at: number): CheckpointEntry {
  invariant(entry.state.kind === "open", `checkpoint ${entry.job}/${entry.id}: aborted while ${entry.state.kind}`);
  return assertCheckpoint({ ...entry, state: { kind: "aborted", at } });
}

export function releaseCheckpoint(entry: CheckpointEntry, at: number): CheckpointEntry {
  invariant(entry.state.kind === "complete", `checkpoint ${entry.job}/${entry.id}: released while ${entry.state.kind}`);
  return assertCheckpoint({ ...entry, state: { kind: "released", at, record: entry.state.record } });
}

export function markPublished(entry: CheckpointEntry, record: RecordPosition): CheckpointEntry {
  const state = entry.state;
  invariant(state.kind === "complete" && state.record === null, `checkpoint ${entry.job}/${entry.id}: completion record published while ${state.kind}${state.kind === "complete" ? " (already published)" : ""}`);
  return assertCheckpoint({ ...entry, state: { ...state, record } });
}

/** The ranks committed so far. */
export function committedRanks(entry: CheckpointEntry): readonly RankCommit[] {
  const state = entry.state;
  if (state.kind === "open") return [...state.ranks.values()];
  if (state.kind === "complete") return state.ranks;
  return [];
}

/** Newest first: highest step, then latest completion, then id (a total order). */
export function newestFirst(a: CheckpointEntry, b: CheckpointEntry): number {
  if (a.step !== b.step) return b.step - a.step;
  const at = (e: CheckpointEntry) => (e.state.kind === "complete" ? e.state.completedAt : 0);
  if (at(a) !== at(b)) return at(b) - at(a);
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** The complete checkpoints past the newest `keep`: the ones to release. */
export function beyondKeep(entries: Iterable<CheckpointEntry>, keep: number): CheckpointEntry[] {
  invariant(keep >= 1, `keep ${keep} < 1`);
  const complete = [...entries].filter((e) => e.state.kind === "complete").sort(newestFirst);
  return complete.slice(keep);
}
