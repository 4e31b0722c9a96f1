// The publish path's traceparent injection: a publish that carries a valid HTTP `traceparent`
// stores it in every record that does not already carry one. Costs one header lookup when the
// request carries none (the common case), and answers the request itself then. A record that
// already holds `maxHeaders` headers is left as it is, so the injection never breaks that limit.
import type { PublishRequest } from "../log/publish-request.ts";
import { parseTraceparent, TRACEPARENT_HEADER } from "./traceparent.ts";

/** `request` with `traceparent` added to its records where missing, when `header` is a valid traceparent; `request` itself otherwise. */
export function withTraceparent(request: PublishRequest, header: string | undefined, maxHeaders: number): PublishRequest {
  if (header === undefined || parseTraceparent(header) === undefined) return request;
  const records = request.records.map((r) => {
    if (Object.hasOwn(r.headers, TRACEPARENT_HEADER) || Object.keys(r.headers).length >= maxHeaders) return r;
    return { ...r, headers: { ...r.headers, [TRACEPARENT_HEADER]: header } };
  });
  return { ...request, records };
}
