// Runs transfer tasks with at most `concurrency` in flight and at most `maxBytes` of their
// payloads held at once (a task bigger than maxBytes runs alone). The first failure aborts the
// others (through `signal`) and is rethrown by the next submit() and by drain().
export class TransferPool {
  readonly #concurrency: number;
  readonly #maxBytes: number;
  readonly #abort = new AbortController();
  #active = 0;
  #bytes = 0;
  #error: { error: unknown } | null = null;
  #waiters: (() => void)[] = [];
  #running = new Set<Promise<void>>();

  constructor(concurrency: number, maxBytes: number) {
    this.#concurrency = concurrency;
    this.#maxBytes = maxBytes;
  }

  /** Aborted when a task fails. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  #fits(bytes: number): boolean {
    if (this.#active === 0) return true;
    return this.#active < this.#concurrency && this.#bytes + bytes <= this.#maxBytes;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Fails the pool from outside (a caller's abort): tasks in flight see `signal` abort, later submits throw `reason`. */
  abort(reason: unknown): void {
    if (this.#error) return;
    this.#error = { error: reason };
    this.#abort.abort(reason);
    this.#wake();
  }

  /** Waits for room, then starts `task` in the background. */
  async submit(bytes: number, task: (signal: AbortSignal) => Promise<void>): Promise<void> {
    while (!this.#error && !this.#fits(bytes)) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    if (this.#error) throw this.#error.error;
    this.#active++;
    this.#bytes += bytes;
    const run: Promise<void> = Promise.resolve()
      .then(() => task(this.#abort.signal))
      .catch((e: unknown) => {
        if (!this.#error) {
          this.#error = { error: e };
          this.#abort.abort(e);
        }
      })
      .finally(() => {
        this.#active--;
        this.#bytes -= bytes;
        this.#running.delete(run);
        this.#wake();
      });
    this.#running.add(run);
  }

  /** Waits for every submitted task; throws the first failure. */
  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
    if (this.#error) throw this.#error.error;
  }
}
