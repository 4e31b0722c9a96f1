// Where a partition is served in cluster mode (docs/cluster.md): by this gateway, or by a
// remote leader whose URL the lease map knows. The services (LogService, StreamService) see only
// this interface, so they never import gateway/cluster; ClusterService implements it.

/** The answer of PartitionRouter.route for one partition. */
export type PartitionRoute =
  | { readonly kind: "local" }
  | { readonly kind: "remote"; readonly url: string; readonly node: string };

/** Who leads which partition, as this gateway knows it (its lease map). */
export interface PartitionRouter {
  /**
   * `local` when this gateway leads the partition, `remote` when a live leader is known, and
   * NOT_LEADER (503, retryable) when no live gateway leads it right now.
   */
  route(stream: string, partition: number): PartitionRoute;
  /** The stream's partitions this gateway leads, ascending. */
  localPartitions(stream: string): number[];
}
