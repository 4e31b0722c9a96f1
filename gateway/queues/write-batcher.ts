// Group commit of one queue group's metadata writes. Requests change the group in memory one
// at a time (under the group's lock) and hand over a snapshot of their rows; snapshots queued
// while a transaction runs are written together in the next one, so concurrent workers share
// fsyncs. A request is answered only when its snapshot, and every one before it, is committed.
//
//   idle ──submit──▶ writing(n) ──committed, nothing queued──▶ idle
//                        └──committed, more queued──▶ writing(next n)
//   a transaction fails ──▶ failing: its batch and everything queued behind it are refused
//     (they were computed from memory the database now lacks), and so is every submit until
//     the owner has reloaded the group (onFailure) ──▶ idle
// The owner refuses snapshots taken from a state object the reload replaced.
import { invariant, StrataError } from "../../core/errors.ts";

type BatcherState = { readonly kind: "idle" } | { readonly kind: "writing"; readonly size: number } | { readonly kind: "failing" };

interface Queued<T> {
  readonly item: T;
  resolve(): void;
  reject(e: unknown): void;
}

export class WriteBatcher<T> {
  private state: BatcherState = { kind: "idle" };
  private queue: Queued<T>[] = [];

  constructor(
    private readonly write: (items: readonly T[]) => Promise<void>,
    private readonly onFailure: (e: unknown) => Promise<void>,
  ) {}

  /** Resolves once `item` is committed; rejects if its transaction (or one before it) failed. */
  submit(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.state.kind === "failing") {
        reject(new StrataError("UNAVAILABLE", "the queue's state is being reloaded after a failed write; retry"));
        return;
      }
      this.queue.push({ item, resolve, reject });
      if (this.state.kind === "idle") void this.run();
    });
  }

  private async run(): Promise<void> {
    invariant(this.state.kind === "idle", `queue write batcher: run while ${this.state.kind}`);
    this.state = { kind: "writing", size: 0 };
    // One turn of the event loop for company: the database calls run on this thread, so requests
    // already received get to make their changes and join this transaction.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      this.state = { kind: "writing", size: batch.length };
      try {
        await this.write(batch.map((q) => q.item));
      } catch (e) {
        this.state = { kind: "failing" };
        const refused = [...batch, ...this.queue];
        this.queue = [];
        // Refused first: a request waiting for its commit inside the group's lock must let go of
        // the lock before the reload can take it.
        for (const q of refused) q.reject(e);
        await this.onFailure(e).catch(() => undefined);
        invariant(this.queue.length === 0, "queue write batcher: a submit was queued while failing");
        break;
      }
      for (const q of batch) q.resolve();
    }
    this.state = { kind: "idle" };
  }
}
