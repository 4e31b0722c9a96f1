// What live dataset versions pin against retention: per (stream, partition), the pinned start
// offsets of the versions holding it. Retention asks for the floor (the least of them) on every
// run, so this is an in-memory index kept in step with the version table.
export class DatasetPins {
  readonly #byPartition = new Map<string, Map<string, number>>();

  /** Pins [start, …) of stream/partition for `holder` (a version key); a second call moves the holder's pin. */
  pin(holder: string, stream: string, partition: number, start: number): void {
    const key = partitionKey(stream, partition);
    const holders = this.#byPartition.get(key) ?? new Map<string, number>();
    holders.set(holder, start);
    this.#byPartition.set(key, holders);
  }

  unpin(holder: string, stream: string, partition: number): void {
    const key = partitionKey(stream, partition);
    const holders = this.#byPartition.get(key);
    if (holders === undefined) return;
    holders.delete(holder);
    if (holders.size === 0) this.#byPartition.delete(key);
  }

  /** The least pinned start offset of the partition, or undefined when nothing pins it. */
  floor(stream: string, partition: number): number | undefined {
    const holders = this.#byPartition.get(partitionKey(stream, partition));
    if (holders === undefined) return undefined;
    let least = Number.POSITIVE_INFINITY;
    for (const start of holders.values()) least = Math.min(least, start);
    return least;
  }
}

function partitionKey(stream: string, partition: number): string {
  return `${stream}\u0000${partition}`;
}
