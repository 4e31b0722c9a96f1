// The wire form of GET /v1/cluster (docs/cluster.md): the gateways of the cluster and the leases
// they hold. A zod schema so clients and tests read it validated.
import { z } from "zod";

export const clusterGatewaySchema = z.object({
  node: z.string(),
  /** Its advertised URL ("" until it listens). */
  url: z.string(),
  state: z.enum(["up", "leaving"]),
  /** Its membership has not expired (database clock). */
  live: z.boolean(),
  incarnation: z.number().int(),
  /** Partition leases it holds that have not expired. */
  leases: z.number().int().nonnegative(),
});

export const clusterLeaseSchema = z.object({
  stream: z.string(),
  partition: z.number().int().nonnegative(),
  /** null once released. */
  holder: z.string().nullable(),
  epoch: z.number().int().nonnegative(),
  /** Until the lease expires unless renewed (database clock); negative when expired. */
  expires_in_ms: z.number().int(),
});

export const clusterStatusSchema = z.object({
  /** The gateway that answered. */
  node: z.string(),
  incarnation: z.number().int(),
  gateways: z.array(clusterGatewaySchema),
  leases: z.array(clusterLeaseSchema),
});

export type ClusterGateway = z.infer<typeof clusterGatewaySchema>;
export type ClusterLease = z.infer<typeof clusterLeaseSchema>;
export type ClusterStatus = z.infer<typeof clusterStatusSchema>;
