// Cluster mode (docs/cluster.md): a read of a partition this gateway does not lead
// (`GET /v1/streams/{name}/partitions/{p}/…`: records, long polls, segments) is passed to the
// partition's leader as it is, and the leader's response streamed back unchanged. Mounted after
// the route's scope check (consume on the stream), so a caller this gateway refuses never reaches
// a leader; the leader checks the same Authorization again. A request that already came from
// another gateway (`strata-forwarded: 1`) is never passed on: NOT_LEADER unless led here. No
// live leader: 503 NOT_LEADER (Retry-After: 1, set by errors.ts).
import type { Context, MiddlewareHandler } from "hono";
import { StrataError } from "../../core/errors.ts";
import { partitionForKey } from "../../core/log/partitioner.ts";
import { FORWARDED_HEADER, type ClusterRouting, type PartitionRoute } from "../streams/partition-route.ts";
import type { StreamService } from "../streams/stream-service.ts";
import { authorize } from "../auth/principal.ts";
import { principalOf, type AuthEnv } from "./auth.ts";

const utf8 = new TextEncoder();

/** The longest long poll a proxied read may ask the leader for, on top of the forward timeout. */
const MAX_PROXIED_WAIT_MS = 600_000;

export function partitionReadProxy(routing: ClusterRouting, streams: StreamService): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return next();
    const name = c.req.param("name");
    const partitionText = c.req.param("partition");
    // Anything the route itself would refuse (a bad partition number, an unknown stream or
    // partition) is left to it, so the answer is the same on every gateway.
    if (name === undefined || partitionText === undefined || !/^\d{1,9}$/.test(partitionText)) return next();
    const config = await streams.lookup(name);
    const partition = Number(partitionText);
    if (partition >= config.partitions) return next();
    const route = routing.router.route(name, partition);
    if (route.kind === "local") return next();
    return passOn(c, routing, route, `partition ${partition} of '${name}'`);
  };
}

/**
 * `GET /v1/streams/{name}/latest` of a compacted stream in cluster mode: the latest-per-key index
 * lives with each partition's leader (latest-service.ts), so a read of one key (`?key=`) goes to
 * the leader of the key's partition, and a read of the whole map to the gateway that leads every
 * partition of the stream (this one, or the one remote leader of them all). The whole map of a
 * stream whose partitions several gateways lead is answered only per key: NOT_LEADER, retryable
 * once the leases settle on one gateway. Checks `consume` on the stream first.
 */
export function latestReadProxy(routing: ClusterRouting, streams: StreamService): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const name = c.req.param("name");
    if (c.req.method !== "GET" || name === undefined) return next();
    authorize(principalOf(c), "consume", name);
    const config = await streams.lookup(name);
    if (config.cleanup !== "compact") return next(); // the route answers BAD_REQUEST
    const key = c.req.query("key");
    const partitions = key !== undefined ? [partitionForKey(utf8.encode(key), config.partitions)] : Array.from({ length: config.partitions }, (_, p) => p);
    const routes = partitions.map((p) => routing.router.route(name, p));
    if (routes.every((r) => r.kind === "local")) return next();
    const leaders = new Set(routes.map((r) => (r.kind === "remote" ? r.node : routing.router.node)));
    const first = routes.find((r) => r.kind === "remote");
    if (leaders.size > 1 || first === undefined || first.kind !== "remote") {
      throw new StrataError("NOT_LEADER", `the partitions of '${name}' are led by ${[...leaders].join(", ")}: read the latest records per key (?key=), or retry once one gateway leads them all`);
    }
    return passOn(c, routing, first, `the latest records of '${name}'`);
  };
}

/** Passes the request to `leader` as it is; a request that already came from a gateway is NOT_LEADER instead. */
function passOn(c: Context<AuthEnv>, routing: ClusterRouting, leader: Extract<PartitionRoute, { kind: "remote" }>, what: string): Promise<Response> {
  if (c.req.header(FORWARDED_HEADER) === "1") {
    throw new StrataError("NOT_LEADER", `${what} is not led by this gateway (a forwarded request is never forwarded again); retry`);
  }
  const url = new URL(c.req.url);
  const wait = Number(url.searchParams.get("wait_ms") ?? "0");
  return routing.forwarder.proxy(leader, {
    method: c.req.method,
    pathAndQuery: `${url.pathname}${url.search}`,
    headers: c.req.raw.headers,
    extraWaitMs: Number.isSafeInteger(wait) && wait > 0 ? Math.min(wait, MAX_PROXIED_WAIT_MS) : 0,
    signal: c.req.raw.signal,
  });
}
