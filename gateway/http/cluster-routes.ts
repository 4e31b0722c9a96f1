// GET /v1/cluster (docs/cluster.md): the gateways of the cluster (node, url, state, live,
// incarnation, leases held) and every partition lease (stream, partition, holder, epoch,
// expires_in_ms), read fresh from the shared database. Scope (docs/auth.md): like GET /metrics,
// `metrics` or `admin:>`: the answer names every stream and every gateway, so no per-stream
// scope can cover it. Outside cluster mode: 404 NOT_FOUND.
import { Hono } from "hono";
import { StrataError } from "../../core/errors.ts";
import { authorizeMetrics } from "../auth/principal.ts";
import type { ClusterService } from "../cluster/cluster-service.ts";
import { principalOf, type AuthEnv } from "./auth.ts";

export function clusterRoutes(cluster: ClusterService | undefined) {
  return new Hono<AuthEnv>().get("/cluster", async (c) => {
    authorizeMetrics(principalOf(c));
    if (cluster === undefined) throw new StrataError("NOT_FOUND", "this gateway does not run in cluster mode (strata serve --cluster)");
    return c.json(await cluster.status());
  });
}
