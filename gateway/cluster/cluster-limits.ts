// Limits of cluster mode (docs/cluster.md): how long a partition lease lasts and how often it is
// renewed, how often a gateway looks at membership, and how long a forwarded request may take.
import { StrataError } from "../../core/errors.ts";
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

export const CLUSTER_LIMITS = defineLimits("cluster", {
  leaseMs: { default: 6_000, unit: "ms", min: 500, max: 300_000, doc: "How long a partition lease (and a gateway's membership) lasts without renewal: the longest a killed leader's partitions wait before another gateway takes them." },
  renewMs: { default: 1_500, unit: "ms", min: 50, max: 100_000, doc: "How often a gateway renews its leases and membership; at most a third of `leaseMs`." },
  rebalanceMs: { default: 1_000, unit: "ms", min: 50, max: 60_000, doc: "How often a gateway compares the leases it holds with its share (rendezvous hashing over live gateways), takes free or expired ones and hands over others." },
  forwardTimeoutMs: { default: 30_000, unit: "ms", min: 100, max: 600_000, doc: "Longest a request forwarded to a partition's leader may take before it fails with NOT_LEADER (503)." },
  maxForwardsInFlight: { default: 1_024, unit: "count", min: 1, max: 1_000_000, doc: "Most requests this gateway forwards to leaders at once; past it a request is UNAVAILABLE (503)." },
});

export type ClusterLimits = LimitValues<typeof CLUSTER_LIMITS.specs>;

export const DEFAULT_CLUSTER_LIMITS: ClusterLimits = CLUSTER_LIMITS.defaults;

/** Resolves the family and checks its limits against each other. */
export function resolveClusterLimits(overrides?: Partial<ClusterLimits>): ClusterLimits {
  const limits = CLUSTER_LIMITS.resolve(overrides);
  if (limits.renewMs * 3 > limits.leaseMs) {
    throw new StrataError("BAD_REQUEST", `cluster.renewMs (${limits.renewMs}) must be at most a third of cluster.leaseMs (${limits.leaseMs}): a lease is renewed well before it expires`);
  }
  return limits;
}
