// The access-log record of one HTTP request (docs/logging.md). The observing middleware
// (`observeRequests`, request-metrics-middleware.ts), mounted first so that it sees every answer,
// error answers and the other middlewares' refusals included, calls it after the answer when
// `observability.accessLog` is on and the `strata.access` logger prints info records. Kept to a
// few header reads: it runs on every publish.
import type { Context } from "hono";
import { emitAccess } from "../observability/access-log.ts";
import type { AuthEnv } from "./auth.ts";
import { contentLength, responseBytes } from "./response-facts.ts";

/** Hands the record of the request `c` has answered to the access log; `route` and `ms` come from the caller, which has them already. */
export function logHttpAccess(c: Context<AuthEnv>, method: string, route: string, status: number, ms: number): void {
  const principal = c.get("principal");
  emitAccess({
    transport: "http",
    method,
    route,
    status,
    code: c.get("errorCode"),
    durationMs: ms,
    // Declared lengths only: a chunked upload's bytes are not counted (0).
    bytesIn: contentLength(c.req.raw.headers) ?? 0,
    bytesOut: responseBytes(c),
    // The open principal (no --auth) has no token, so no subject is logged.
    subject: principal === undefined || principal.tokenId === "" ? undefined : principal.subject,
  });
}
