// Cluster mode (docs/cluster.md): a read of a partition this gateway does not lead
// (`GET /v1/streams/{name}/partitions/{p}/…`: records, long polls, segments) is passed to the
// partition's leader as it is, and the leader's response streamed back unchanged. Mounted after
// the route's scope check (consume on the stream), so a caller this gateway refuses never reaches
// a leader; the leader checks the same Authorization again. A request that already came from
// another gateway (`strata-forwarded: 1`) is never passed on: NOT_LEADER unless led here. No
// live leader: 503 NOT_LEADER (Retry-After: 1, set by errors.ts).
import type { MiddlewareHandler } from "hono";
import { StrataError } from "../../core/errors.ts";
import { FORWARDED_HEADER, type ClusterRouting } from "../streams/partition-route.ts";
import type { StreamService } from "../streams/stream-service.ts";
import type { AuthEnv } from "./auth.ts";

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
    if (c.req.header(FORWARDED_HEADER) === "1") {
      throw new StrataError("NOT_LEADER", `partition ${partition} of '${name}' is not led by this gateway (a forwarded request is never forwarded again); retry`);
    }
    const url = new URL(c.req.url);
    const wait = Number(url.searchParams.get("wait_ms") ?? "0");
    return routing.forwarder.proxy(route, {
      method: c.req.method,
      pathAndQuery: `${url.pathname}${url.search}`,
      headers: c.req.raw.headers,
      extraWaitMs: Number.isSafeInteger(wait) && wait > 0 ? Math.min(wait, MAX_PROXIED_WAIT_MS) : 0,
      signal: c.req.raw.signal,
    });
  };
}
