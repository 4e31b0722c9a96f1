// A connection to several gateways (a cluster) or one load balancer URL for the client library's
// calls: the first URL names the gateway in the calls' URLs and a failover fetch
// (core/client/failover-fetch.ts) sends each request to the gateway that answers, moving on
// after failures that are safe to retry (docs/clients.md#several-gateways).
import { failoverFetch, type FailoverFetch } from "../../core/client/failover-fetch.ts";
import type { FailoverLimits } from "../../core/client/failover-limits.ts";
import type { GatewayConnection } from "./gateway-call.ts";

export interface GatewayUrlsOptions {
  /** A gateway token (`strata tokens issue`), sent as `Authorization: Bearer`. */
  readonly token?: string;
  /** The fetch each attempt goes through (e.g. one trusting a private CA); the global fetch by default. */
  readonly fetch?: typeof fetch;
  /** Overrides of the retry limits (attempts, total time, backoff, Retry-After cap, answer timeout). */
  readonly failover?: Partial<FailoverLimits>;
}

/** The connection of a failover fetch: its first URL and the fetch itself (so that stickiness spans every call made with it). */
export function connectionOver(fetcher: FailoverFetch, token?: string): GatewayConnection {
  const first = fetcher.endpoints.urls[0] ?? fetcher.endpoints.current();
  return { gateway: first, fetch: fetcher, ...(token === undefined ? {} : { token }) };
}

/**
 * A connection for every call of the client library (publishRecords, consumeGroup, the queue,
 * checkpoint, gradient and fleet calls) to the gateways at `urls`: one URL, a comma-separated
 * list or an array. Throws BAD_REQUEST for a URL that is not http(s) or a limit out of range.
 */
export function gatewayConnection(urls: string | readonly string[], options: GatewayUrlsOptions = {}): GatewayConnection {
  const fetcher = failoverFetch(urls, { ...(options.fetch ? { fetch: options.fetch } : {}), ...(options.failover ? { limits: options.failover } : {}) });
  return connectionOver(fetcher, options.token);
}
