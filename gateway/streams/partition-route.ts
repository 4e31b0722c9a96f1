// Where a partition is served in cluster mode (docs/cluster.md): by this gateway, or by a
// remote leader whose URL the lease map knows. The services (LogService, StreamService) see only
// this interface, so they never import gateway/cluster; ClusterService implements it.
import type { Acks } from "../../core/log/record.ts";

/** The answer of PartitionRouter.route for one partition. */
export type PartitionRoute =
  | { readonly kind: "local" }
  | { readonly kind: "remote"; readonly url: string; readonly node: string };

/** Who leads which partition, as this gateway knows it (its lease map). */
export interface PartitionRouter {
  /** This gateway's node name (the leader named for partitions led here). */
  readonly node: string;
  /**
   * `local` when this gateway leads the partition, `remote` when a live leader is known, and
   * NOT_LEADER (503, retryable) when no live gateway leads it right now.
   */
  route(stream: string, partition: number): PartitionRoute;
  /** The stream's partitions this gateway leads, ascending. */
  localPartitions(stream: string): number[];
}

/** The header a gateway sets on a request it forwards or proxies to a partition's leader. */
export const FORWARDED_HEADER = "strata-forwarded";

/** Records [offset, offset + count) where a leader appended a forwarded batch. */
export interface ForwardedPosition {
  readonly partition: number;
  readonly offset: number;
}

/** One partition's records, as a client-built batch, sent to the partition's leader. */
export interface ForwardedBatch {
  readonly stream: string;
  readonly partition: number;
  /** A client-built batch (core/log/client-batch.ts), producer (id, epoch, seq) in its header. */
  readonly body: Uint8Array;
  readonly acks: Acks;
  /** The caller's `Authorization` header, sent on so the leader authorises the caller, not this gateway. */
  readonly authorization?: string;
}

/** Sends a partition's batch to its leader (gateway/cluster/partition-forwarder.ts). */
export interface PartitionForwarder {
  /**
   * The leader's positions for the batch's records, in order. NOT_LEADER (503) when the leader
   * does not answer (refused, reset, timed out); the leader's refusal keeps its code.
   */
  forward(leader: { readonly url: string; readonly node: string }, batch: ForwardedBatch): Promise<ForwardedPosition[]>;
  /**
   * Sends a read request on to the leader as it is (`strata-forwarded: 1` added) and answers its
   * response (status, headers, body streamed, never re-encoded). `extraWaitMs`: how long the
   * leader may hold the request (a long poll) on top of the forward timeout. NOT_LEADER when the
   * leader does not answer.
   */
  proxy(leader: { readonly url: string; readonly node: string }, request: ProxiedRequest): Promise<Response>;
}

/** A request passed on to a leader by proxy(). */
export interface ProxiedRequest {
  readonly method: string;
  /** The path and query, e.g. `/v1/streams/s/partitions/0/records?offset=5`. */
  readonly pathAndQuery: string;
  readonly headers: Headers;
  readonly extraWaitMs: number;
  /** The caller's request signal: a caller that goes away stops the proxied request. */
  readonly signal?: AbortSignal;
}

/** What the stream services need in cluster mode: who leads what, and how to reach a leader. */
export interface ClusterRouting {
  readonly router: PartitionRouter;
  readonly forwarder: PartitionForwarder;
}
