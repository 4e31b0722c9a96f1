// Single flight: concurrent calls for one key share one execution of the work.
export class SingleFlight<K, V> {
  readonly #inFlight = new Map<K, Promise<V>>();

  get size(): number {
    return this.#inFlight.size;
  }

  /** Runs `work` unless a call for `key` is already running, whose result is shared instead. */
  run(key: K, work: () => Promise<V>): Promise<V> {
    const running = this.#inFlight.get(key);
    if (running) return running;
    const promise = work().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, promise);
    return promise;
  }
}
