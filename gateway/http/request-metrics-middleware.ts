// HTTP request metrics (docs/metrics.md): in flight while a request is served, then counted by
// method, route pattern and status, and timed to its answer's headers (a streamed body's transfer
// is not included). The route label is the pattern the request matched (`routePattern`, the same
// the access log writes), never the raw path: a path carries stream names and offsets, which
// would make series without bound. Mounted before the other middlewares, so it sees every answer,
// their refusals included.
import type { MiddlewareHandler } from "hono";
import type { RequestMetrics } from "../observability/request-metrics.ts";
import { routePattern } from "./route-pattern.ts";

export function requestMetrics(metrics: RequestMetrics): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    metrics.httpStarted();
    let status = 500;
    try {
      await next();
      status = c.res.status;
    } finally {
      metrics.httpFinished(c.req.method, routePattern(c), status, (performance.now() - started) / 1000);
    }
  };
}
