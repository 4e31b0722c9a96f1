// Callers waiting for a partition's offsets to reach a point, bounded in number.
//
// OffsetWaiters: appends waiting until an end offset is synced or durable. They resolve once the
// watched end reaches theirs, and are rejected together when the partition fails or closes.
// LongPollWaiters: readers waiting for data past an offset. They always resolve: on data, after
// their time, on abort, or at close; the reader then reads whatever is there.
import { StrataError } from "../../core/errors.ts";

interface OffsetWaiter {
  readonly end: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class OffsetWaiters {
  #waiters: OffsetWaiter[] = [];

  constructor(
    /** Most waiters at once; past it wait() fails with UNAVAILABLE. */
    private readonly capacity: number,
    /** Names what is awaited, for the error message. */
    private readonly what: string,
  ) {}

  get size(): number {
    return this.#waiters.length;
  }

  get full(): boolean {
    return this.#waiters.length >= this.capacity;
  }

  /** Resolves once settle() reaches `end`; at once if `reached` already does. */
  wait(end: number, reached: number): Promise<void> {
    if (end <= reached) return Promise.resolve();
    if (this.full) return Promise.reject(new StrataError("UNAVAILABLE", `too many appends waiting for ${this.what}; retry`));
    return new Promise<void>((resolve, reject) => this.#waiters.push({ end, resolve, reject }));
  }

  /** The watched end moved to `reached`: resolves every waiter it covers. */
  settle(reached: number): void {
    if (this.#waiters.length === 0) return;
    const rest: OffsetWaiter[] = [];
    for (const w of this.#waiters) {
      if (w.end <= reached) w.resolve();
      else rest.push(w);
    }
    this.#waiters = rest;
  }

  /** Rejects every waiter (the partition failed or is closing). */
  rejectAll(error: unknown): void {
    for (const w of this.#waiters.splice(0)) w.reject(error);
  }

  /** True when someone waits for an end in (after, upTo]. */
  waitsWithin(after: number, upTo: number): boolean {
    return this.#waiters.some((w) => w.end > after && w.end <= upTo);
  }
}

interface LongPollWaiter {
  readonly offset: number;
  readonly done: () => void;
}

export class LongPollWaiters {
  readonly #waiters = new Set<LongPollWaiter>();

  constructor(
    private readonly capacity: number,
    private readonly what: string,
  ) {}

  get size(): number {
    return this.#waiters.size;
  }

  /** Resolves once wake() passes `offset`, after `ms`, on abort, or at wakeAll(). */
  wait(offset: number, ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || signal?.aborted) return Promise.resolve();
    if (this.#waiters.size >= this.capacity) {
      return Promise.reject(new StrataError("UNAVAILABLE", `too many readers waiting on ${this.what}`));
    }
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.#waiters.delete(waiter);
        resolve();
      };
      const waiter: LongPollWaiter = { offset, done };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      this.#waiters.add(waiter);
    });
  }

  /** Data now ends at `end`: wakes every reader waiting for an offset below it. */
  wake(end: number): void {
    for (const w of [...this.#waiters]) if (end > w.offset) w.done();
  }

  wakeAll(): void {
    for (const w of [...this.#waiters]) w.done();
  }
}
