// Rendezvous (highest random weight) hashing: partition (stream, p) belongs to the node with the
// highest BLAKE3(node, stream, p) among the live nodes. A node joining or leaving moves only the
// partitions it wins or held (about 1/N of them), and every gateway computes the same owner from
// the same member list, with no coordination.
import { blake3 } from "../../core/hashing/blake3.ts";

/** The weight of `node` for stream/partition: the first 8 bytes of BLAKE3 over the three, as a bigint. */
export function rendezvousWeight(node: string, stream: string, partition: number): bigint {
  // NUL separates the parts: neither node names nor stream names contain it.
  const digest = blake3(`${node}\u0000${stream}\u0000${partition}`);
  return new DataView(digest.buffer, digest.byteOffset, 8).getBigUint64(0);
}

/** The owner of stream/partition among `nodes` (ties, practically impossible, go to the smaller name); undefined when there are none. */
export function rendezvousOwner(nodes: Iterable<string>, stream: string, partition: number): string | undefined {
  let best: string | undefined;
  let bestWeight = -1n;
  for (const node of nodes) {
    const weight = rendezvousWeight(node, stream, partition);
    if (weight > bestWeight || (weight === bestWeight && best !== undefined && node < best)) {
      best = node;
      bestWeight = weight;
    }
  }
  return best;
}
