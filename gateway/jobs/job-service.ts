// Training jobs and their all-or-none checkpoints (docs/checkpoints.md). Every rank commits its
// shard (an artefact) under the checkpoint's id; the commit of the last rank flips the checkpoint
// to complete in the same metadata transaction as its rank row, and only complete checkpoints are
// listed. The live checkpoints (open and complete) are kept in memory, loaded at start; commits,
// keep changes and aborts of one job run one at a time (a per-job lock). The manifests of live
// checkpoints are held against artefact GC (heldManifests).
import { getLogger } from "@logtape/logtape";
import { StrataError } from "../../core/errors.ts";
import { KeyedLock } from "../../core/util/keyed-lock.ts";
import type { ManifestService } from "../artefacts/manifest-service.ts";
import type { MetadataDb } from "../db/database.ts";
import type { LogService } from "../streams/log-service.ts";
import type { StreamService } from "../streams/stream-service.ts";
import { abortCheckpoint, addRank, beyondKeep, committedRanks, markPublished, newestFirst, openCheckpoint, releaseCheckpoint, type CheckpointEntry, type RankCommit } from "./checkpoint-state.ts";
import { CheckpointSweeper } from "./checkpoint-sweeper.ts";
import { CompletionRecords } from "./completion-record.ts";
import type { JobLimits } from "./job-limits.ts";
import { JobStore, type JobRow } from "./job-store.ts";
import type { Checkpoint, CommitRankAnswer, CommitRankRequest, JobInfo } from "./job-wire.ts";

const log = getLogger(["strata", "jobs"]);

export interface JobServiceConfig {
  readonly db: MetadataDb;
  readonly streams: StreamService;
  readonly log: LogService;
  readonly manifests: ManifestService;
  readonly limits: JobLimits;
}

export class JobService {
  readonly #store: JobStore;
  readonly #manifests: ManifestService;
  readonly #records: CompletionRecords;
  readonly #limits: JobLimits;
  readonly #jobs = new Map<string, JobRow>();
  /** Per job, its open and complete checkpoints by id (ended ones live only in the database). */
  readonly #live = new Map<string, Map<string, CheckpointEntry>>();
  readonly #lock = new KeyedLock();
  /** Manifests of commits in flight (checked, not yet in #live), with how many commits hold each. */
  readonly #pending = new Map<string, number>();
  #sweeper: CheckpointSweeper | undefined;
  /** False on a gateway that does not coordinate (cluster mode): commits and keeps are refused. */
  #serving = false;
  /** Cluster mode: false the moment this gateway may no longer coordinate (before suspend() runs). */
  #mayWrite: () => boolean = () => true;

  private constructor(config: JobServiceConfig) {
    this.#store = new JobStore(config.db);
    this.#manifests = config.manifests;
    this.#records = new CompletionRecords(config.streams, config.log, config.manifests);
    this.#limits = config.limits;
  }

  /**
   * Loads jobs and live checkpoints, publishes the completion records a crash left unpublished,
   * and starts the sweeper. `dormant` (cluster mode): only loads (GC holders read it) until
   * resume(), on the coordinator; commits are refused meanwhile.
   */
  static async open(config: JobServiceConfig & { readonly dormant?: boolean }): Promise<JobService> {
    if (config.limits.defaultKeep > config.limits.maxKeep) {
      throw new StrataError("BAD_REQUEST", `gateway config: jobs.defaultKeep (${config.limits.defaultKeep}) is over jobs.maxKeep (${config.limits.maxKeep})`);
    }
    const service = new JobService(config);
    if (config.dormant === true) await service.refresh();
    else await service.resume();
    return service;
  }

  async close(): Promise<void> {
    await this.suspend();
  }

  /** Cluster mode, this gateway became the coordinator: state as the database has it, missing records published, the sweeper started. */
  async resume(mayWrite: () => boolean = () => true): Promise<void> {
    await this.suspend();
    this.#mayWrite = mayWrite;
    await this.#load();
    this.#serving = true;
    await this.#publishMissing();
    this.#sweeper = new CheckpointSweeper(this.#limits.sweepIntervalMs, () => this.sweep(Date.now()));
  }

  /** Stops the sweeper (waiting for a sweep in progress); commits get NOT_LEADER until resume(). */
  async suspend(): Promise<void> {
    this.#serving = false;
    const sweeper = this.#sweeper;
    this.#sweeper = undefined;
    await sweeper?.close();
  }

  /** On a gateway that does not coordinate: reloads the checkpoints, so the GC holder (heldManifests) follows the coordinator's commits. */
  async refresh(): Promise<void> {
    if (!this.#serving) await this.#load();
  }

  async #load(): Promise<void> {
    const jobs = await this.#store.loadJobs();
    const live = await this.#store.loadLive();
    this.#jobs.clear();
    this.#live.clear();
    for (const job of jobs) this.#jobs.set(job.name, job);
    for (const entry of live) this.#liveOf(entry.job).set(entry.id, entry);
  }

  #requireServing(): void {
    if (!this.#serving || !this.#mayWrite()) throw new StrataError("NOT_LEADER", "this gateway does not coordinate training jobs (any more); retry");
  }

  /** PUT /v1/jobs/{job}: sets how many complete checkpoints the job keeps (creating the job), releasing the rest. */
  async setKeep(job: string, keep: number): Promise<{ job: string; keep: number }> {
    this.#checkJobName(job);
    if (keep > this.#limits.maxKeep) throw new StrataError("BAD_REQUEST", `keep ${keep} is over the limit jobs.maxKeep (${this.#limits.maxKeep})`);
    return this.#lock.run(job, async () => {
      this.#requireServing();
      const now = Date.now();
      const row: JobRow = { ...(this.#jobs.get(job) ?? { name: job, createdAt: now }), keep };
      const releases = beyondKeep(this.#liveOf(job).values(), keep).map((e) => releaseCheckpoint(e, now));
      await this.#store.writeKeep(row, releases);
      this.#jobs.set(job, row);
      this.#forget(releases);
      return { job, keep };
    });
  }

  /** GET /v1/jobs/{job}; NOT_FOUND for a job that never had a commit or a keep. */
  info(job: string): JobInfo {
    const row = this.#jobs.get(job);
    if (row === undefined) throw new StrataError("NOT_FOUND", `no job '${job}'`);
    return { job, keep: row.keep, checkpoints: this.#complete(job).length };
  }

  list(): JobInfo[] {
    return [...this.#jobs.keys()].sort().map((job) => this.info(job));
  }

  /** The complete checkpoints of a job, newest first (none for an unknown job). */
  checkpoints(job: string): Checkpoint[] {
    return this.#complete(job).map(toCheckpoint);
  }

  /** The newest complete checkpoint; NOT_FOUND when there is none. */
  latest(job: string): Checkpoint {
    const newest = this.#complete(job)[0];
    if (newest === undefined) throw new StrataError("NOT_FOUND", `job '${job}' has no complete checkpoint`);
    return toCheckpoint(newest);
  }

  /** One complete checkpoint; NOT_FOUND when it is unknown, incomplete, aborted or released. */
  checkpoint(job: string, id: string): Checkpoint {
    const entry = this.#live.get(job)?.get(id);
    if (entry === undefined || entry.state.kind !== "complete") throw new StrataError("NOT_FOUND", `job '${job}' has no complete checkpoint '${id}'`);
    return toCheckpoint(entry);
  }

  /**
   * PUT /v1/jobs/{job}/checkpoints/{id}/ranks/{rank}. The artefact must be a stored manifest; it
   * is held against GC from before that check on, so GC cannot take it between the check and
   * the commit (GC re-checks the held set under the manifest's lock before deleting).
   */
  async commit(job: string, id: string, rank: number, request: CommitRankRequest): Promise<CommitRankAnswer> {
    this.#checkJobName(job);
    if (id.length > this.#limits.maxCheckpointIdLength) throw new StrataError("BAD_REQUEST", `id: a checkpoint id is at most ${this.#limits.maxCheckpointIdLength} characters (jobs.maxCheckpointIdLength)`);
    if (request.world_size > this.#limits.maxWorldSize) throw new StrataError("BAD_REQUEST", `world_size ${request.world_size} is over the limit jobs.maxWorldSize (${this.#limits.maxWorldSize})`);
    if (rank >= request.world_size) throw new StrataError("BAD_REQUEST", `rank ${rank} is not in [0, world_size ${request.world_size})`);
    const state = request.state ?? null;
    const stateBytes = state === null ? 0 : new TextEncoder().encode(JSON.stringify(state)).length;
    if (stateBytes > this.#limits.maxStateBytes) throw new StrataError("BAD_REQUEST", `state is ${stateBytes} bytes as JSON; the limit is jobs.maxStateBytes (${this.#limits.maxStateBytes})`);
    this.#hold(request.artefact);
    try {
      await this.#manifests.lock.run(request.artefact, () => this.#manifests.info(request.artefact));
      return await this.#lock.run(job, () => {
        this.#requireServing();
        return this.#commitLocked(job, id, { rank, artefact: request.artefact, state, committedAt: Date.now() }, request);
      });
    } finally {
      this.#unhold(request.artefact);
    }
  }

  async #commitLocked(job: string, id: string, commit: RankCommit, request: CommitRankRequest): Promise<CommitRankAnswer> {
    const live = this.#liveOf(job);
    const before = live.get(id);
    const answer = (entry: CheckpointEntry): CommitRankAnswer => ({
      job,
      id,
      rank: commit.rank,
      step: entry.step,
      world_size: entry.worldSize,
      committed: committedRanks(entry).length,
      complete: entry.state.kind === "complete",
    });
    if (before === undefined) {
      const ended = await this.#store.endedKind(job, id);
      if (ended !== undefined) throw new StrataError("CHECKPOINT_CONFLICT", `checkpoint '${id}' of job '${job}' was ${ended}; commit the ranks under a new id`);
      const open = [...live.values()].filter((e) => e.state.kind === "open").length;
      if (open >= this.#limits.maxOpenCheckpoints) throw new StrataError("BAD_REQUEST", `job '${job}' has ${open} incomplete checkpoints, the limit jobs.maxOpenCheckpoints`);
    } else {
      if (before.step !== request.step || before.worldSize !== request.world_size) {
        throw new StrataError("CHECKPOINT_CONFLICT", `checkpoint '${id}' of job '${job}' is step ${before.step} of world_size ${before.worldSize}, not step ${request.step} of world_size ${request.world_size}`);
      }
      const previous = committedRanks(before).find((c) => c.rank === commit.rank);
      if (previous !== undefined) {
        if (previous.artefact !== commit.artefact) throw new StrataError("CHECKPOINT_CONFLICT", `rank ${commit.rank} of checkpoint '${id}' of job '${job}' already committed artefact ${previous.artefact}`);
        if (JSON.stringify(previous.state) !== JSON.stringify(commit.state)) throw new StrataError("CHECKPOINT_CONFLICT", `rank ${commit.rank} of checkpoint '${id}' of job '${job}' already committed another state`);
        return answer(before);
      }
    }
    const existingJob = this.#jobs.get(job);
    const jobRow: JobRow = existingJob ?? { name: job, keep: this.#limits.defaultKeep, createdAt: commit.committedAt };
    const after = before === undefined ? openCheckpoint(job, id, request.step, request.world_size, commit) : addRank(before, commit);
    const releases = after.state.kind === "complete" ? beyondKeep([...live.values()].filter((e) => e.id !== id).concat(after), jobRow.keep).map((e) => releaseCheckpoint(e, commit.committedAt)) : [];
    await this.#store.writeRank({ job: jobRow, newJob: existingJob === undefined, before, after, commit, releases });
    this.#jobs.set(job, jobRow);
    live.set(id, after);
    this.#forget(releases);
    if (after.state.kind === "complete" && live.has(id)) {
      log.info("checkpoint {job}/{id} complete: step {step}, {ranks} ranks", { job, id, step: after.step, ranks: after.worldSize });
      await this.#publish(after);
    }
    return answer(after);
  }

  /** Aborts open checkpoints past the timeout and publishes completion records still missing. */
  async sweep(now: number): Promise<void> {
    if (!this.#serving || !this.#mayWrite()) return;
    const cutoff = now - this.#limits.checkpointTimeoutMs;
    for (const [job, live] of this.#live) {
      const expired = [...live.values()].filter((e) => e.state.kind === "open" && e.createdAt <= cutoff);
      if (expired.length === 0) continue;
      await this.#lock.run(job, async () => {
        for (const seen of expired) {
          const entry = live.get(seen.id);
          if (entry === undefined || entry.state.kind !== "open") continue;
          const aborted = abortCheckpoint(entry, now);
          await this.#store.abort(aborted);
          live.delete(entry.id);
          log.warn("checkpoint {job}/{id} aborted: {committed} of {worldSize} ranks committed within {timeoutMs} ms", { job, id: entry.id, committed: entry.state.ranks.size, worldSize: entry.worldSize, timeoutMs: this.#limits.checkpointTimeoutMs });
        }
      });
    }
    await this.#publishMissing();
  }

  /** Manifests GC must keep: every rank's shard of every open and complete checkpoint, and commits in flight. */
  heldManifests(): Set<string> {
    const held = new Set(this.#pending.keys());
    for (const live of this.#live.values()) for (const entry of live.values()) for (const commit of committedRanks(entry)) held.add(commit.artefact);
    return held;
  }

  async #publishMissing(): Promise<void> {
    for (const [job, live] of this.#live) {
      const unpublished = [...live.values()].filter((e) => e.state.kind === "complete" && e.state.record === null);
      if (unpublished.length === 0) continue;
      await this.#lock.run(job, async () => {
        for (const seen of unpublished) {
          const entry = live.get(seen.id);
          if (entry !== undefined && entry.state.kind === "complete" && entry.state.record === null) await this.#publish(entry);
        }
      });
    }
  }

  /** Publishes a complete checkpoint's record and stores where it landed; a failure is logged and retried by the next sweep. Under the job's lock. */
  async #publish(entry: CheckpointEntry): Promise<void> {
    try {
      const record = await this.#records.publish(entry);
      await this.#store.markPublished(entry.job, entry.id, record);
      this.#liveOf(entry.job).set(entry.id, markPublished(entry, record));
    } catch (error) {
      log.error("publishing the completion record of checkpoint {job}/{id} failed (retried by the next sweep): {error}", { job: entry.job, id: entry.id, error });
    }
  }

  #complete(job: string): CheckpointEntry[] {
    return [...(this.#live.get(job)?.values() ?? [])].filter((e) => e.state.kind === "complete").sort(newestFirst);
  }

  #liveOf(job: string): Map<string, CheckpointEntry> {
    let live = this.#live.get(job);
    if (live === undefined) this.#live.set(job, (live = new Map()));
    return live;
  }

  #forget(released: readonly CheckpointEntry[]): void {
    for (const entry of released) {
      this.#live.get(entry.job)?.delete(entry.id);
      log.info("checkpoint {job}/{id} released (beyond the job's keep)", { job: entry.job, id: entry.id });
    }
  }

  #checkJobName(job: string): void {
    if (job.length > this.#limits.maxJobNameLength) throw new StrataError("BAD_REQUEST", `job: a job name is at most ${this.#limits.maxJobNameLength} characters (jobs.maxJobNameLength)`);
  }

  #hold(manifest: string): void {
    this.#pending.set(manifest, (this.#pending.get(manifest) ?? 0) + 1);
  }

  #unhold(manifest: string): void {
    const n = this.#pending.get(manifest) ?? 0;
    if (n <= 1) this.#pending.delete(manifest);
    else this.#pending.set(manifest, n - 1);
  }
}

function toCheckpoint(entry: CheckpointEntry): Checkpoint {
  const state = entry.state;
  if (state.kind !== "complete") throw new StrataError("INTERNAL", `checkpoint ${entry.job}/${entry.id} shown while ${state.kind}`);
  return {
    job: entry.job,
    id: entry.id,
    step: entry.step,
    world_size: entry.worldSize,
    completed_at: state.completedAt,
    ranks: state.ranks.map((c) => ({ rank: c.rank, artefact: c.artefact, state: c.state })),
  };
}
