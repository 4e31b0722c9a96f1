// Cluster mode: the stateful services' routes (groups, queues, datasets, jobs, gradients,
// devices, rollouts) run on one gateway, the coordinator (gateway/cluster/coordinated-services.ts,
// docs/cluster.md "Stateful services"). On any other gateway this middleware proxies them to it:
// method, path and query, headers (the caller's Authorization, so the coordinator authorises the
// caller) and body streamed, with `strata-forwarded: 1`; the answer's status, headers and body
// streamed back as they are. No coordinator known, or one that does not answer: 503 NOT_LEADER
// with Retry-After: 1 (clients retry). A request that was already proxied once is never proxied
// again: it is answered here, or 503 NOT_LEADER when this gateway does not coordinate.
// Scope: none of its own; the proxied route checks the caller's scopes on the coordinator.
import type { Context, MiddlewareHandler } from "hono";
import { getLogger } from "@logtape/logtape";
import { StrataError } from "../../core/errors.ts";
import type { ServiceCoordination } from "../cluster/coordinator.ts";
import { FORWARDED_HEADER } from "../streams/partition-route.ts";
import { errorResponse } from "./errors.ts";

const log = getLogger(["strata", "cluster", "coordinator"]);

/** The URL paths under /v1 whose routes run on the coordinator. */
export const COORDINATED_PATHS = ["/v1/groups", "/v1/queues", "/v1/datasets", "/v1/jobs", "/v1/gradients", "/v1/devices", "/v1/rollouts"] as const;

/** Hop-by-hop headers (RFC 9110 7.6.1) and those fetch sets itself. */
const NOT_FORWARDED = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host"]);
/** Answer headers that describe the encoding fetch already undid. */
const NOT_RETURNED = new Set(["connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length"]);


function retryLater(c: Context, message: string): Response {
  c.header("Retry-After", "1");
  return errorResponse(c, "NOT_LEADER", message, 503);
}

/** True when `path` is one of the coordinated routes (the prefix itself or below it). */
export function isCoordinatedPath(path: string): boolean {
  return COORDINATED_PATHS.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

/** The proxy; the wait for the coordinator's answer to start is bounded by forwardTimeoutMs, the body then streams as long as it takes. */
export function coordinatorProxy(coordination: ServiceCoordination, fetchImpl: typeof fetch = fetch): MiddlewareHandler {
  return async (c, next) => {
    if (!isCoordinatedPath(c.req.path)) return next();
    const route = coordination.route();
    if (route.kind === "local") return next();
    if (c.req.header(FORWARDED_HEADER) !== undefined) return retryLater(c, "this gateway does not coordinate the stateful services (any more); retry");
    if (route.kind === "unknown") return retryLater(c, "no gateway coordinates the stateful services right now; retry");
    const incoming = new URL(c.req.url);
    const target = new URL(`${incoming.pathname}${incoming.search}`, route.url);
    const headers = new Headers();
    c.req.raw.headers.forEach((value, name) => {
      if (!NOT_FORWARDED.has(name.toLowerCase())) headers.set(name, value);
    });
    headers.set(FORWARDED_HEADER, "1");
    const hasBody = c.req.method !== "GET" && c.req.method !== "HEAD";
    const abort = new AbortController();
    const onClientGone = () => abort.abort();
    c.req.raw.signal.addEventListener("abort", onClientGone, { once: true });
    const timer = setTimeout(() => abort.abort(new StrataError("NOT_LEADER", "the coordinator did not answer in time")), coordination.forwardTimeoutMs);
    // A streamed request body: Node's fetch needs `duplex` said.
    const init: RequestInit & { duplex?: "half" } = { method: c.req.method, headers, body: hasBody ? c.req.raw.body : undefined, signal: abort.signal, redirect: "manual" };
    if (hasBody) init.duplex = "half";
    let answer: Response;
    try {
      answer = await fetchImpl(target, init);
    } catch (error) {
      log.warn("proxying {method} {path} to the coordinator {node} failed: {error}", { method: c.req.method, path: c.req.path, node: route.node, error });
      return retryLater(c, `the coordinator ${route.node} did not answer; retry`);
    } finally {
      clearTimeout(timer);
    }
    const returned = new Headers();
    answer.headers.forEach((value, name) => {
      if (!NOT_RETURNED.has(name.toLowerCase())) returned.append(name, value);
    });
    return new Response(answer.body, { status: answer.status, headers: returned });
  };
}
