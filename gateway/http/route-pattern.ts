// The route pattern of a request (`/v1/streams/:name/records`), for the access log and request
// metrics: bounded in number and free of stream names and keys, unlike the raw path.
import type { Context } from "hono";
import { matchedRoutes } from "hono/route";

/** What a request that matched no route (a 404 from notFound) is logged and counted as. */
export const UNMATCHED_ROUTE = "(unmatched)";

/**
 * Called after `next()`: the route that answered, or, when a middleware answered first (a refused
 * token, a proxy to the leader, a body over the limit), the route the request was going to.
 * Middleware is registered with `use`, whose method is ALL; routes have their own method.
 */
export function routePattern(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = c.req.routeIndex; i < routes.length; i++) {
    const route = routes[i];
    if (route !== undefined && route.method !== "ALL") return route.path;
  }
  return UNMATCHED_ROUTE;
}
