// The target assignment of a group: which member should own each partition of the streams its
// members subscribe to. Balanced and sticky, computed on the gateway (KIP-848's server-side
// "uniform" assignor): partitions keep their owner while it still subscribes to the stream,
// orphans go to the eligible member holding the fewest, then partitions move from a member to
// an eligible one holding at least two fewer until no such move exists. With one subscription
// shared by all members this gives each floor(P/M) or ceil(P/M) and moves no more partitions
// than the balance needs; with different subscriptions it balances as far as they allow.

/** A partition as a map key: `stream/partition` cannot collide since partitions are integers after the last slash. */
export type PartitionKey = string;

export function partitionKey(stream: string, partition: number): PartitionKey {
  return `${stream}\u0000${partition}`;
}

export function splitPartitionKey(key: PartitionKey): { stream: string; partition: number } {
  const at = key.lastIndexOf("\u0000");
  return { stream: key.slice(0, at), partition: Number(key.slice(at + 1)) };
}

export interface AssignorMember {
  readonly id: string;
  readonly streams: ReadonlySet<string>;
}

/**
 * @param members every member, with its subscription
 * @param partitionsOf the partition count of a stream, or undefined when it does not exist
 * @param previous the previous target: member id to the partitions it was assigned
 */
export function assignPartitions(
  members: readonly AssignorMember[],
  partitionsOf: (stream: string) => number | undefined,
  previous: ReadonlyMap<string, ReadonlySet<PartitionKey>>,
): Map<string, Set<PartitionKey>> {
  const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const target = new Map<string, Set<PartitionKey>>(sorted.map((m) => [m.id, new Set()]));
  const eligible = new Map<PartitionKey, AssignorMember[]>();
  const streams = [...new Set(sorted.flatMap((m) => [...m.streams]))].sort();
  for (const stream of streams) {
    const count = partitionsOf(stream) ?? 0;
    const subscribers = sorted.filter((m) => m.streams.has(stream));
    for (let p = 0; p < count; p++) eligible.set(partitionKey(stream, p), subscribers);
  }
  const owner = new Map<PartitionKey, string>();
  // Sticky: a partition stays with its previous owner while that member may still own it.
  for (const [id, keys] of previous) {
    const mine = target.get(id);
    if (mine === undefined) continue;
    for (const key of keys) {
      if (eligible.get(key)?.some((m) => m.id === id) === true && !owner.has(key)) {
        mine.add(key);
        owner.set(key, id);
      }
    }
  }
  const size = (id: string) => target.get(id)?.size ?? 0;
  const fewest = (candidates: readonly AssignorMember[]) => candidates.reduce((best, m) => (size(m.id) < size(best.id) ? m : best));
  for (const [key, candidates] of eligible) {
    if (owner.has(key)) continue;
    const to = fewest(candidates);
    target.get(to.id)?.add(key);
    owner.set(key, to.id);
  }
  // Every move lowers the sum of squared sizes, so this ends; each pass moves one partition.
  for (;;) {
    let moved = false;
    const byLoad = [...sorted].sort((a, b) => size(b.id) - size(a.id));
    for (const from of byLoad) {
      const keys = [...(target.get(from.id) ?? [])].sort().reverse();
      for (const key of keys) {
        const to = fewest(eligible.get(key) ?? []);
        if (size(to.id) + 2 <= size(from.id)) {
          target.get(from.id)?.delete(key);
          target.get(to.id)?.add(key);
          owner.set(key, to.id);
          moved = true;
          break;
        }
      }
      if (moved) break;
    }
    if (!moved) return target;
  }
}
