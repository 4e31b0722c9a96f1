// The quorum gradient aggregator (docs/gradients.md): reads a gradient stream's contributions,
// sums them per step and tensor name in f32, and publishes the mean to `{stream}.mean` as soon as
// ceil(quorum x world_size) distinct ranks arrived, or deadlineMs after the step's first
// contribution arrived here, whichever comes first. One mean per step, also across a restart: at
// start it reads `{stream}.mean` and skips the contributions of every step published there.
//
// Each step is a state machine: collecting -> publishing -> published. A contribution of a step
// that is publishing or published (by this process) is late: dropped and counted (`drop`), or
// carried into the same rank's contribution of the next step not yet published (`carry`).
import { getLogger } from "@logtape/logtape";
import { invariant, StrataError } from "../../core/errors.ts";
import { contributionRecordSchema, meanRecordSchema, meanStreamOf, type ContributionRecord, type MeanHeaders, type MeanRecord } from "../gradients/gradient-wire.ts";
import { abortableDelay, type GatewayConnection } from "./gateway-call.ts";
import { ensureStream, publishRecord, readPartition, startOffsetsOf, type ReadAnswer, type StoredRecord } from "./gradient-http.ts";
import { Backoff, isTransient } from "./gradient-retry.ts";
import { TensorSums } from "./gradient-sums.ts";

const log = getLogger(["strata", "gradients", "aggregator"]);

export type LatePolicy = "drop" | "carry";

export interface GradientAggregatorOptions extends GatewayConnection {
  /** The gradient stream ranks contribute to. */
  readonly stream: string;
  /** The fraction of world_size whose contributions publish a step at once, in (0, 1]. */
  readonly quorum: number;
  /** Milliseconds after a step's first contribution arrived here at which it is published with whoever arrived. */
  readonly deadlineMs: number;
  /** What happens to a contribution whose step was already published (default drop). */
  readonly late?: LatePolicy;
  /** The offset each partition of the gradient stream is read from (default 0). */
  readonly fromOffset?: number;
  /** Longest long-poll of one read, ms (default 5000). */
  readonly waitMs?: number;
  /** Steps collecting at once (default 64): a contribution opening one more publishes the lowest open step first, as if its deadline had passed. Each open step holds an f32 copy of the gradients. */
  readonly maxOpenSteps?: number;
  /** Called after each mean is published. */
  readonly onMean?: (mean: PublishedMean) => void;
}

export interface PublishedMean {
  readonly step: number;
  readonly worldSize: number;
  readonly contributors: readonly number[];
  /** Late contributions carried into this step, as `rank@step`. */
  readonly carried: readonly string[];
  readonly partition: number;
  readonly offset: number;
}

export interface AggregatorStats {
  /** Means this process published. */
  published: number;
  /** Late contributions dropped (late: drop, or a carry that did not fit its next step). */
  lateDropped: number;
  /** Late contributions carried into a later step. */
  carried: number;
  /** Contributions of steps published before this process started. */
  skipped: number;
  /** Second records of a rank in a step (the gateway answers repeats with the first, so only after its signature window). */
  duplicates: number;
  /** Records that are not contributions, or differ from their step's first one. */
  refused: number;
}

/** Distinct ranks that publish a step of `worldSize` at once (the epsilon keeps 0.7 x 10 at 7, not 8). */
export function quorumRanks(quorum: number, worldSize: number): number {
  return Math.min(worldSize, Math.max(1, Math.ceil(quorum * worldSize - 1e-9)));
}

type StepState =
  | { readonly kind: "collecting"; readonly worldSize: number; readonly sums: TensorSums; readonly contributors: Set<number>; readonly carried: string[]; readonly timer: ReturnType<typeof setTimeout> }
  | { readonly kind: "publishing" }
  | { readonly kind: "published"; readonly by: "earlier" | "this" };

/** A late contribution waiting for its rank's next contribution. */
interface PendingCarry {
  /** The late steps it holds, ascending. */
  readonly steps: number[];
  readonly sums: TensorSums;
}

type Run = { kind: "running" } | { kind: "stopped" } | { kind: "failed"; error: unknown };

export class GradientAggregator {
  readonly stats: AggregatorStats = { published: 0, lateDropped: 0, carried: 0, skipped: 0, duplicates: 0, refused: 0 };
  /** Resolves when stop() is called, rejects when a read or a publish fails for good. */
  readonly done: Promise<void>;
  private readonly steps = new Map<number, StepState>();
  /** The steps whose state is collecting. */
  private readonly collecting = new Set<number>();
  /** Per partition of `<stream>.mean`, the offset the start-up read ended at. */
  private readonly meanScannedTo: number[] = [];
  private readonly pending = new Map<number, PendingCarry>();
  private readonly abort = new AbortController();
  private readonly meanStream: string;
  private readonly late: LatePolicy;
  private run: Run = { kind: "running" };
  private settle!: { resolve: () => void; reject: (e: unknown) => void };
  private following: Promise<void> = Promise.resolve();
  /** Mean publishes under way (not aborted by stop(), which waits for them). */
  private readonly publishes = new Set<Promise<void>>();

  private constructor(private readonly options: GradientAggregatorOptions) {
    if (!(options.quorum > 0 && options.quorum <= 1)) throw new StrataError("BAD_REQUEST", `quorum must be in (0, 1], got ${options.quorum}`);
    if (!Number.isSafeInteger(options.deadlineMs) || options.deadlineMs < 0) throw new StrataError("BAD_REQUEST", `deadlineMs must be a non-negative integer, got ${options.deadlineMs}`);
    if (options.maxOpenSteps !== undefined && !(Number.isSafeInteger(options.maxOpenSteps) && options.maxOpenSteps >= 1)) throw new StrataError("BAD_REQUEST", `maxOpenSteps must be a positive integer, got ${options.maxOpenSteps}`);
    this.meanStream = meanStreamOf(options.stream);
    this.late = options.late ?? "drop";
    this.done = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    // A failure is also reported through done; an unobserved rejection must not end the process.
    this.done.catch(() => undefined);
  }

  /** Reads the published means, then follows every partition of the gradient stream. */
  static async start(options: GradientAggregatorOptions): Promise<GradientAggregator> {
    const aggregator = new GradientAggregator(options);
    await aggregator.loadPublished();
    aggregator.following = aggregator.follow();
    return aggregator;
  }

  /** Stops reading, forgets the steps in progress (a restart re-aggregates them from the stream) and waits for publishes under way. */
  async stop(): Promise<void> {
    if (this.run.kind === "running") this.run = { kind: "stopped" };
    this.abort.abort();
    this.clearTimers();
    await Promise.allSettled([this.following, ...this.publishes]);
    this.settle.resolve();
  }

  private clearTimers(): void {
    for (const step of this.collecting) {
      const state = this.steps.get(step);
      invariant(state?.kind === "collecting", `step ${step} in the collecting set is collecting`);
      clearTimeout(state.timer);
    }
  }

  private fail(error: unknown): void {
    if (this.run.kind !== "running") return;
    this.run = { kind: "failed", error };
    log.error("gradient aggregator of {stream} stopped: {error}", { stream: this.options.stream, error: String(error) });
    this.abort.abort();
    this.clearTimers();
    this.settle.reject(error);
  }

  private get signal(): AbortSignal {
    return this.abort.signal;
  }

  private async loadPublished(): Promise<void> {
    await ensureStream(this.options, this.meanStream, this.signal);
    const starts = (await startOffsetsOf(this.options, this.meanStream, this.signal)) ?? [0];
    for (const [partition, start] of starts.entries()) {
      // Means removed by retention are not seen: their steps' contributions are likely gone too.
      let offset = start;
      for (;;) {
        const answer = await readPartition(this.options, this.meanStream, partition, offset, 0, this.signal);
        for (const record of answer.records) {
          const parsed = meanRecordSchema.safeParse(record.fields);
          if (!parsed.success) {
            log.warn("record {offset} of {stream} is not a mean; ignored", { offset: record.offset, stream: this.meanStream });
            continue;
          }
          if (this.steps.has(parsed.data.step)) log.warn("{stream} holds more than one mean of step {step}", { stream: this.meanStream, step: parsed.data.step });
          this.steps.set(parsed.data.step, { kind: "published", by: "earlier" });
        }
        offset = answer.next_offset;
        if (answer.records.length === 0 || offset >= answer.end_offset) break;
      }
      this.meanScannedTo.push(offset);
    }
    log.info("gradient aggregator of {stream}: {count} steps already published", { stream: this.options.stream, count: this.steps.size });
  }

  private async follow(): Promise<void> {
    const waitMs = this.options.waitMs ?? 5000;
    try {
      let starts = await startOffsetsOf(this.options, this.options.stream, this.signal);
      // The gradient stream appears with its first contribution.
      while (starts === undefined && !this.signal.aborted) {
        await abortableDelay(Math.min(waitMs, 250), this.signal);
        starts = await startOffsetsOf(this.options, this.options.stream, this.signal);
      }
      if (starts === undefined) return;
      await Promise.all(starts.map((_, partition) => this.followPartition(partition, waitMs)));
    } catch (e) {
      if (!this.signal.aborted) this.fail(e);
    }
  }

  private async followPartition(partition: number, waitMs: number): Promise<void> {
    let offset = this.options.fromOffset ?? 0;
    const backoff = new Backoff();
    while (!this.signal.aborted) {
      let answer: ReadAnswer;
      try {
        answer = await readPartition(this.options, this.options.stream, partition, offset, waitMs, this.signal);
      } catch (e) {
        if (this.signal.aborted) return;
        if (e instanceof StrataError && e.code === "OFFSET_OUT_OF_RANGE") {
          // Below the partition's start (retention removed it): go on from the start.
          const start = (await startOffsetsOf(this.options, this.options.stream, this.signal))?.[partition];
          if (start === undefined || start <= offset) throw e;
          log.warn("{stream}/{partition}: offsets before {start} were removed by retention; reading from there", { stream: this.options.stream, partition, start });
          offset = start;
          continue;
        }
        if (!isTransient(e)) throw e;
        log.warn("reading {stream}/{partition} at {offset} failed, retrying: {error}", { stream: this.options.stream, partition, offset, error: String(e) });
        await backoff.wait(this.signal);
        continue;
      }
      backoff.reset();
      for (const record of answer.records) this.accept(record);
      offset = answer.next_offset;
    }
  }

  /**
   * Publishes a mean, riding out transient failures. Before each retry it looks for the mean on
   * `<stream>.mean` past where the start-up read ended, so a publish the gateway stored but did not
   * answer is not published twice.
   */
  private async publishMean(step: number, record: { key: string; headers: MeanHeaders; fields: MeanRecord }): Promise<{ partition: number; offset: number }> {
    const backoff = new Backoff();
    for (;;) {
      try {
        return await publishRecord(this.options, this.meanStream, record);
      } catch (e) {
        if (!isTransient(e)) throw e;
        log.warn("publishing the mean of step {step} failed, retrying: {error}", { step, error: String(e) });
      }
      // After stop() no retry starts: the step is left to a restart, which finds its mean or re-aggregates it.
      await backoff.wait(this.signal);
      if (this.signal.aborted) throw new StrataError("UNAVAILABLE", `the mean of step ${step} was not published before the aggregator stopped`);
      try {
        const found = await this.findMean(step);
        if (found !== undefined) return found;
      } catch (e) {
        if (!isTransient(e)) throw e;
      }
    }
  }

  /** Where the mean of `step` is on `<stream>.mean` past the start-up read, if it is there. */
  private async findMean(step: number): Promise<{ partition: number; offset: number } | undefined> {
    for (const [partition, from] of this.meanScannedTo.entries()) {
      let offset = from;
      for (;;) {
        const answer = await readPartition(this.options, this.meanStream, partition, offset, 0);
        for (const r of answer.records) {
          const mean = meanRecordSchema.safeParse(r.fields);
          if (mean.success && mean.data.step === step) return { partition, offset: r.offset };
        }
        offset = answer.next_offset;
        if (answer.records.length === 0 || offset >= answer.end_offset) break;
      }
    }
    return undefined;
  }

  private accept(record: StoredRecord): void {
    const parsed = contributionRecordSchema.safeParse(record.fields);
    if (!parsed.success) {
      this.stats.refused++;
      log.warn("record {offset} of {stream} is not a gradient contribution; ignored", { offset: record.offset, stream: this.options.stream });
      return;
    }
    try {
      this.acceptContribution(parsed.data);
    } catch (e) {
      // A record the gateway's checks would have refused (a dtype other than F32, F16, BF16) must not stop the aggregator.
      if (!(e instanceof StrataError) || e.code === "INTERNAL") throw e;
      this.stats.refused++;
      log.warn("record {offset} of {stream} ignored: {error}", { offset: record.offset, stream: this.options.stream, error: e.message });
    }
  }

  private acceptContribution(c: ContributionRecord): void {
    const state = this.steps.get(c.step);
    if (state === undefined) return this.openStep(c);
    switch (state.kind) {
      case "collecting":
        return this.add(c.step, state, c);
      case "publishing":
        return this.onLate(c);
      case "published":
        if (state.by === "this") return this.onLate(c);
        this.stats.skipped++;
        return;
    }
  }

  private openStep(c: ContributionRecord): void {
    if (this.collecting.size >= (this.options.maxOpenSteps ?? 64)) this.publish(Math.min(...this.collecting));
    const timer = setTimeout(() => this.publish(c.step), this.options.deadlineMs);
    const state: StepState = { kind: "collecting", worldSize: c.world_size, sums: TensorSums.of(c.tensors), contributors: new Set([c.rank]), carried: [], timer };
    this.steps.set(c.step, state);
    this.collecting.add(c.step);
    this.applyPending(c.step, state, c.rank);
    this.publishOnQuorum(c.step, state);
  }

  private add(step: number, state: Extract<StepState, { kind: "collecting" }>, c: ContributionRecord): void {
    if (state.contributors.has(c.rank)) {
      this.stats.duplicates++;
      return;
    }
    const mismatch = c.world_size !== state.worldSize ? `world_size ${c.world_size}, the step's is ${state.worldSize}` : state.sums.mismatch(c.tensors);
    if (mismatch !== null) {
      this.stats.refused++;
      log.warn("contribution of rank {rank} to step {step} ignored: {mismatch}", { rank: c.rank, step, mismatch });
      return;
    }
    state.sums.add(c.tensors);
    state.contributors.add(c.rank);
    this.applyPending(step, state, c.rank);
    this.publishOnQuorum(step, state);
  }

  private publishOnQuorum(step: number, state: Extract<StepState, { kind: "collecting" }>): void {
    if (state.contributors.size >= quorumRanks(this.options.quorum, state.worldSize)) this.publish(step);
  }

  /** A late contribution: counted and dropped, or carried into the rank's next unpublished step. */
  private onLate(c: ContributionRecord): void {
    if (this.late === "drop") {
      this.stats.lateDropped++;
      log.info("late contribution of rank {rank} to step {step} dropped", { rank: c.rank, step: c.step });
      return;
    }
    const sums = TensorSums.of(c.tensors);
    // The rank's contribution to a later step may already be in: add to it now.
    let target: number | undefined;
    for (const step of this.collecting) {
      const state = this.steps.get(step);
      if (step > c.step && state?.kind === "collecting" && state.contributors.has(c.rank) && (target === undefined || step < target)) target = step;
    }
    if (target !== undefined) {
      const state = this.steps.get(target);
      invariant(state?.kind === "collecting", `carry target ${target} is collecting`);
      this.carryInto(target, state, c.rank, [c.step], sums);
      return;
    }
    const held = this.pending.get(c.rank);
    if (held === undefined) {
      this.pending.set(c.rank, { steps: [c.step], sums });
      return;
    }
    const mismatch = held.sums.addSums(sums);
    if (mismatch !== null) {
      this.stats.lateDropped++;
      log.warn("late contribution of rank {rank} to step {step} dropped: it differs from the one already carried ({mismatch})", { rank: c.rank, step: c.step, mismatch });
      return;
    }
    held.steps.push(c.step);
    held.steps.sort((a, b) => a - b);
  }

  /** Adds the rank's pending carry to `step` when every step it holds is before `step`. */
  private applyPending(step: number, state: Extract<StepState, { kind: "collecting" }>, rank: number): void {
    const held = this.pending.get(rank);
    if (held === undefined || held.steps[held.steps.length - 1]! >= step) return;
    this.pending.delete(rank);
    this.carryInto(step, state, rank, held.steps, held.sums);
  }

  private carryInto(step: number, state: Extract<StepState, { kind: "collecting" }>, rank: number, from: readonly number[], sums: TensorSums): void {
    const mismatch = state.sums.addSums(sums);
    if (mismatch !== null) {
      this.stats.lateDropped += from.length;
      log.warn("late contribution of rank {rank} (steps {from}) dropped: it does not fit step {step} ({mismatch})", { rank, from: from.join(","), step, mismatch });
      return;
    }
    this.stats.carried += from.length;
    for (const s of from) state.carried.push(`${rank}@${s}`);
  }

  private publish(step: number): void {
    const state = this.steps.get(step);
    if (state?.kind !== "collecting" || this.run.kind !== "running") return;
    clearTimeout(state.timer);
    const contributors = [...state.contributors].sort((a, b) => a - b);
    invariant(new Set(contributors).size === contributors.length && contributors.length >= 1, `step ${step}'s contributors are distinct and not empty`);
    this.steps.set(step, { kind: "publishing" });
    this.collecting.delete(step);
    const headers: MeanHeaders = {
      contributors: contributors.join(","),
      quorum: String(this.options.quorum),
      world_size: String(state.worldSize),
      ...(state.carried.length > 0 ? { carried: state.carried.join(",") } : {}),
    };
    const fields: MeanRecord = { step, world_size: state.worldSize, contributors, tensors: state.sums.mean(contributors.length) };
    const publishing = this.publishMean(step, { key: String(step), headers, fields }).then(
      (position) => {
        invariant(this.steps.get(step)?.kind === "publishing", `step ${step} is published once`);
        this.steps.set(step, { kind: "published", by: "this" });
        this.stats.published++;
        log.debug("step {step} of {stream}: mean of {count} ranks published", { step, stream: this.options.stream, count: contributors.length });
        this.options.onMean?.({ step, worldSize: state.worldSize, contributors, carried: state.carried, ...position });
      },
      (e: unknown) => this.fail(e),
    );
    // An invariant or onMean failing is a failure of the aggregator too.
    const tracked: Promise<void> = publishing.catch((e: unknown) => this.fail(e)).finally(() => this.publishes.delete(tracked));
    this.publishes.add(tracked);
  }
}
