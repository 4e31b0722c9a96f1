// Serializes async tasks per key (tasks on different keys run concurrently). Memory is one
// entry per key with a task queued or running; `maxKeys` bounds those entries, and a task for
// a new key past the bound is refused with `onFull()` instead of queued.
export class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>();

  constructor(
    private readonly maxKeys = Number.POSITIVE_INFINITY,
    private readonly onFull: () => Error = () => new RangeError(`more than ${maxKeys} keys locked at once`),
  ) {}

  /** Keys with a task queued or running. */
  get size(): number {
    return this.#tails.size;
  }

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key);
    if (previous === undefined && this.#tails.size >= this.maxKeys) return Promise.reject(this.onFull());
    const result = (previous ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }
}
