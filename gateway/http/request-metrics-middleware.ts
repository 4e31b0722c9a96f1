// The observing middleware of every HTTP request: its request metrics (docs/metrics.md) and its
// access-log record (docs/logging.md, access-log-middleware.ts), each only when switched on
// (`observability.requestMetrics`, `observability.accessLog`). One middleware for both, since it
// runs on every publish: one await layer, one clock pair and one route lookup serve the two.
// Metrics: in flight while a request is served, then counted by method, route pattern and status,
// and timed to its answer's headers (a streamed body's transfer is not included). The route label
// is the pattern the request matched (`routePattern`, the same the access log writes), never the
// raw path: a path carries stream names and offsets, which would make series without bound.
// gateway/http/app.ts mounts it first, before tracing and the other middlewares, so it sees every
// answer, their refusals included.
import type { MiddlewareHandler } from "hono";
import { accessLogged } from "../observability/access-log.ts";
import type { RequestMetrics } from "../observability/request-metrics.ts";
import { logHttpAccess } from "./access-log-middleware.ts";
import type { AuthEnv } from "./auth.ts";
import { routePattern } from "./route-pattern.ts";

export interface RequestObserving {
  /** Whether to write the access log (`observability.accessLog`). */
  accessLog: boolean;
  /** Where to count and time requests; undefined when request metrics are off. */
  metrics: RequestMetrics | undefined;
}

/** The access log and request metrics of HTTP requests; undefined when both are off (nothing to mount). */
export function observeRequests({ accessLog, metrics }: RequestObserving): MiddlewareHandler<AuthEnv> | undefined {
  if (!accessLog && metrics === undefined) return undefined;
  return async (c, next) => {
    const started = performance.now();
    metrics?.httpStarted();
    try {
      await next();
    } catch (e) {
      // Hono answers thrown errors before next() returns; one that still escapes is counted as a
      // 500 and has no answer to log.
      metrics?.httpFinished(c.req.method, routePattern(c), 500, (performance.now() - started) / 1000);
      throw e;
    }
    const logged = accessLog && accessLogged();
    if (metrics === undefined && !logged) return;
    const ms = performance.now() - started;
    const method = c.req.method;
    const route = routePattern(c);
    const status = c.res.status;
    metrics?.httpFinished(method, route, status, ms / 1000);
    if (logged) logHttpAccess(c, method, route, status, ms);
  };
}
