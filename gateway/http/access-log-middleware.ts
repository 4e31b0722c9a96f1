// One access-log record per HTTP request (docs/logging.md), mounted first so that it sees every
// answer, error answers included (Hono turns a thrown error into the answer before returning
// from next()). Kept to a few header reads: it runs on every publish.
import type { MiddlewareHandler } from "hono";
import { accessLogged, emitAccess } from "../observability/access-log.ts";
import type { AuthEnv } from "./auth.ts";
import { contentLength, responseBytes } from "./response-facts.ts";
import { routePattern } from "./route-pattern.ts";

export function accessLog(): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    if (!accessLogged()) return;
    const principal = c.get("principal");
    emitAccess({
      transport: "http",
      method: c.req.method,
      route: routePattern(c),
      status: c.res.status,
      code: c.get("errorCode"),
      durationMs: performance.now() - started,
      // Declared lengths only: a chunked upload's bytes are not counted (0).
      bytesIn: contentLength(c.req.raw.headers) ?? 0,
      bytesOut: responseBytes(c),
      // The open principal (no --auth) has no token, so no subject is logged.
      subject: principal === undefined || principal.tokenId === "" ? undefined : principal.subject,
    });
  };
}
