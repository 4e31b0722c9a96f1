// The edge's HTTP helper over one gateway URL or several (a comma-separated list or an array):
// requests go to the gateway that last answered and move to the next URL after failures that are
// safe to retry (core/client/failover-fetch.ts; docs/clients.md#several-gateways). The sync loop
// still owns the retries of a publish (with backoff and the same sequence number): a failed
// attempt only moves the next one to the next gateway.
import { failoverFetch } from "../../core/client/failover-fetch.ts";
import type { FailoverLimits } from "../../core/client/failover-limits.ts";
import { GatewayHttp, type GatewayHttpOptions } from "../artefacts/gateway-http.ts";
import { fetchTrusting } from "./ca-fetch.ts";

/** GatewayHttp over the gateways at `urls`, trusting `options.ca` (PEM) when given. */
export function failoverGatewayHttp(urls: string | readonly string[], options: Omit<GatewayHttpOptions, "fetch"> & { readonly failover?: Partial<FailoverLimits> }): FailoverGatewayHttp {
  const { failover, ca, ...rest } = options;
  const fetcher = failoverFetch(urls, { ...(ca !== undefined ? { fetch: fetchTrusting(ca) } : {}), ...(failover ? { limits: failover } : {}) });
  return new FailoverGatewayHttp(fetcher.endpoints.urls[0] ?? fetcher.endpoints.current(), { ...rest, fetch: fetcher }, () => fetcher.endpoints.current());
}

/** A GatewayHttp that also says which gateway its requests go to now (for pulls that open their own connection). */
export class FailoverGatewayHttp extends GatewayHttp {
  readonly current: () => string;

  constructor(baseUrl: string, options: GatewayHttpOptions, current: () => string) {
    super(baseUrl, options);
    this.current = current;
  }
}
