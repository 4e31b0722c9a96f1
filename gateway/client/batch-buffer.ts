// The batches the partition readers fetched and the caller has not yet asked for, bounded in
// bytes: a reader waits for room before its next read, so memory stays near the bound however
// many partitions a member owns (one page may pass it, as a read is sized before it is known).
import { invariant } from "../../core/errors.ts";

export interface Buffered<T> {
  readonly item: T;
  readonly bytes: number;
}

export class BatchBuffer<T> {
  readonly #maxBytes: number;
  readonly #items: Buffered<T>[] = [];
  #bytes = 0;
  #wakeReaders: Array<() => void> = [];
  #wakeTaker: Array<() => void> = [];

  constructor(maxBytes: number) {
    invariant(Number.isSafeInteger(maxBytes) && maxBytes > 0, `buffer bound must be a positive integer, got ${maxBytes}`);
    this.#maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  push(item: T, bytes: number): void {
    this.#items.push({ item, bytes });
    this.#bytes += bytes;
    this.#wake("taker");
  }

  shift(): T | undefined {
    const first = this.#items.shift();
    if (first === undefined) return undefined;
    this.#bytes -= first.bytes;
    invariant(this.#bytes >= 0, "buffered bytes went negative");
    this.#wake("readers");
    return first.item;
  }

  /** Drops the items `drop` selects (a revoked partition's batches). */
  remove(drop: (item: T) => boolean): void {
    for (let i = this.#items.length - 1; i >= 0; i--) {
      const entry = this.#items[i]!;
      if (!drop(entry.item)) continue;
      this.#items.splice(i, 1);
      this.#bytes -= entry.bytes;
    }
    this.#wake("readers");
  }

  /** Resolves when the buffer is under its bound (at once if it is) or `signal` aborts. */
  room(signal: AbortSignal): Promise<void> {
    if (this.#bytes < this.#maxBytes || signal.aborted) return Promise.resolve();
    return this.#wait("readers", signal).then(() => this.room(signal));
  }

  /** Resolves when an item is pushed, `wake()` is called, or `signal` aborts. */
  arrival(signal: AbortSignal): Promise<void> {
    if (this.#items.length > 0 || signal.aborted) return Promise.resolve();
    return this.#wait("taker", signal);
  }

  /** Wakes everyone waiting (the consumer closed or failed). */
  wake(): void {
    this.#wake("readers");
    this.#wake("taker");
  }

  #wait(who: "readers" | "taker", signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        signal.removeEventListener("abort", done);
        resolve();
      };
      signal.addEventListener("abort", done, { once: true });
      (who === "readers" ? this.#wakeReaders : this.#wakeTaker).push(done);
    });
  }

  #wake(who: "readers" | "taker"): void {
    const waiting = who === "readers" ? this.#wakeReaders : this.#wakeTaker;
    if (who === "readers") this.#wakeReaders = [];
    else this.#wakeTaker = [];
    for (const resolve of waiting) resolve();
  }
}
