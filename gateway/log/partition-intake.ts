// One partition's side of the cluster-mode intake (docs/cluster.md): hands its synced groups to
// the gateway's IntakeWriter in offset order, tracks the intake-committed end (what its readers
// may see), and holds the appends waiting for it, each at most ackTimeoutMs.
import { StrataError, invariant } from "../../core/errors.ts";
import type { QueuedAppend } from "./group-commit.ts";
import { OffsetWaiters } from "./offset-waiters.ts";
import type { PartitionCluster } from "./partition-context.ts";

export interface PartitionIntakeHooks {
  /** The intake-committed end moved. */
  committed(end: number): void;
  /** A range was fenced (LEASE_LOST): the lease is gone. */
  fenced(error: StrataError): void;
}

export class PartitionIntake {
  /** One past the last intake-committed offset (the WAL holds everything below it). */
  #end: number;
  readonly #waiters: OffsetWaiters;

  constructor(
    private readonly cluster: PartitionCluster,
    private readonly stream: string,
    private readonly partition: number,
    /** Where the WAL ends at open: rebuilt from committed ranges, so committed. */
    start: number,
    maxWaiters: number,
    private readonly hooks: PartitionIntakeHooks,
  ) {
    this.#end = start;
    this.#waiters = new OffsetWaiters(maxWaiters, `the intake on partition ${partition} of ${stream}`);
  }

  get end(): number {
    return this.#end;
  }

  /** Reserves room for an append (UNAVAILABLE when too many appends or bytes wait for the intake). */
  admit(size: number): void {
    if (this.#waiters.full) throw new StrataError("UNAVAILABLE", `partition ${this.partition} of ${this.stream}: too many appends waiting for the intake; retry`);
    this.cluster.intake.admit(size);
  }

  /** Gives back what admit() reserved for an append refused before it was synced. */
  release(size: number): void {
    this.cluster.intake.release(size);
  }

  /** Resolves once the readable end (settle()) reaches `end`. Register before the write, so the bound holds exactly. */
  wait(end: number, readable: number): Promise<void> {
    return this.#waiters.wait(end, readable);
  }

  settle(readable: number): void {
    this.#waiters.settle(readable);
  }

  rejectAll(error: unknown): void {
    this.#waiters.rejectAll(error);
  }

  /** Hands a synced group over; its commit moves the end, a fenced commit calls hooks.fenced. */
  submit(group: readonly QueuedAppend[]): void {
    const first = group[0]!.batch;
    const last = group.at(-1)!.batch;
    const end = last.baseOffset + last.count;
    let bytes = 0;
    for (const q of group) bytes += q.batch.bytes.length;
    this.cluster.intake
      .submit({
        stream: this.stream,
        partition: this.partition,
        epoch: this.cluster.fence.epoch,
        baseOffset: first.baseOffset,
        endOffset: end,
        batches: group.map((q) => q.batch.bytes),
        bytes,
      })
      .then(
        () => {
          invariant(end > this.#end, "intake commits arrive in offset order");
          this.#end = end;
          this.hooks.committed(end);
        },
        (e: unknown) => {
          if (e instanceof StrataError && e.code === "LEASE_LOST") this.hooks.fenced(e);
          else this.#waiters.rejectAll(e);
        },
      );
  }

  /** Waits for `committed` at most ackTimeoutMs; then fails with the 503 of what stalls the intake (the commit is still retried). */
  async within(committed: Promise<void>, baseOffset: number): Promise<void> {
    const { ackTimeoutMs, intake } = this.cluster;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const code = intake.stalledBy === "metadata" ? "METADATA_UNAVAILABLE" : "STORAGE_ERROR";
        reject(new StrataError(code, `partition ${this.partition} of ${this.stream}: offsets ${baseOffset}.. not committed to the intake within ${ackTimeoutMs} ms (still retried; a retry of the batch may find it a duplicate)`));
      }, ackTimeoutMs);
    });
    try {
      await Promise.race([committed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Hand-over: waits (at most ackTimeoutMs) until everything synced up to `syncedEnd` is committed or failed. */
  async drain(syncedEnd: number, readable: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#waiters.wait(syncedEnd, readable).catch(() => {}),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, this.cluster.ackTimeoutMs))),
    ]);
    clearTimeout(timer);
  }
}
