// A least-recently-used map bounded by the total weight of its values (bytes by default).
// Capacity 0 keeps nothing; a value heavier than the capacity is not kept. `onEvict` hears of
// entries pushed out to make room (not of delete() or of a value replaced under its key), for
// callers that keep an index of their own over the entries.
export class WeightedLru<K, V> {
  // Map iteration order is recency order: a hit re-inserts its entry at the end.
  readonly #entries = new Map<K, { value: V; weight: number }>();
  readonly #capacity: number;
  readonly #weigh: (value: V) => number;
  readonly #onEvict: ((key: K, value: V) => void) | undefined;
  #total = 0;

  constructor(capacity: number, weigh: (value: V) => number, onEvict?: (key: K, value: V) => void) {
    if (!Number.isFinite(capacity) || capacity < 0) throw new RangeError(`cache capacity must be >= 0, got ${capacity}`);
    this.#capacity = capacity;
    this.#weigh = weigh;
    this.#onEvict = onEvict;
  }

  /** Total weight held. */
  get weight(): number {
    return this.#total;
  }
  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V): void {
    this.delete(key);
    const weight = this.#weigh(value);
    if (weight > this.#capacity) return;
    this.#entries.set(key, { value, weight });
    this.#total += weight;
    while (this.#total > this.#capacity) {
      const oldest = this.#entries.entries().next();
      if (oldest.done) break;
      const [oldKey, entry] = oldest.value;
      this.delete(oldKey);
      this.#onEvict?.(oldKey, entry.value);
    }
  }

  delete(key: K): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#total -= entry.weight;
  }

  /** Removes every entry whose key matches. */
  deleteWhere(match: (key: K) => boolean): void {
    for (const key of [...this.#entries.keys()]) if (match(key)) this.delete(key);
  }
}

/** An LRU of byte arrays bounded by their total length. */
export class ByteLru<K> extends WeightedLru<K, Uint8Array> {
  constructor(capacityBytes: number) {
    super(capacityBytes, (v) => v.length);
  }
}
