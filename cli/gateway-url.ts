// The --gateway flag: where the client commands send their requests. One URL, or several
// separated by commas (the gateways of a cluster; docs/clients.md#several-gateways); a URL
// without a scheme (`127.0.0.1:7070`, `gw.example:7070/`) means http, as curl reads it. Commands
// that take a list send each request to the gateway that last answered and move to the next
// URL after failures that are safe to retry (core/client/failover-fetch.ts).
import { Option } from "commander";
import { z } from "zod";
import { failoverFetch, type FailoverFetch } from "../core/client/failover-fetch.ts";
import { parseGatewayUrls, withHttpScheme } from "../core/client/gateway-urls.ts";
import { GatewayHttp } from "../edge/artefacts/gateway-http.ts";
import { fetchTrusting } from "../edge/transports/ca-fetch.ts";
import { connectionOver } from "../gateway/client/gateway-urls.ts";
import type { GatewayConnection } from "../gateway/client/gateway-call.ts";

export const DEFAULT_GATEWAY = "http://127.0.0.1:7070";

/** `host:port` → `http://host:port`; a URL with a scheme is kept. Trailing slashes go. */
export const withScheme = withHttpScheme;

const urlMessage = (text: string): string => `must be an http(s) URL like http://127.0.0.1:7070 or 127.0.0.1:7070, got ${text}`;

/** One http(s) URL or a comma-separated list of them (scheme optional), normalized to `URL[,URL...]`. */
export const httpUrlText = z.string().transform((text, ctx) => {
  const bad = text.split(",").find((part) => part.trim() !== "" && !isHttpUrl(part.trim()));
  if (bad !== undefined || text.split(",").every((part) => part.trim() === "")) {
    ctx.issues.push({ code: "custom", message: `must be an http(s) URL like http://127.0.0.1:7070 or 127.0.0.1:7070, got ${(bad ?? text).trim()}`, input: text });
    return z.NEVER;
  }
  return parseGatewayUrls(text).join(",");
});

/** Exactly one http(s) URL, for the commands that do not take a list (push, pull, checkpoints pull). */
export const singleHttpUrlText = httpUrlText.refine((urls) => !urls.includes(","), { message: "takes one gateway URL here (a list of several is for the record, stream, group, queue, token and fleet commands)" });

function isHttpUrl(text: string): boolean {
  try {
    parseGatewayUrls(text);
    return true;
  } catch {
    return false;
  }
}

export function gatewayOption(): Option {
  return new Option("--gateway <URL[,URL...]>", "the gateway's HTTP address, or several gateways' separated by commas (a URL without a scheme means http)").env("STRATA_GATEWAY").default(DEFAULT_GATEWAY);
}

/** One failover fetch per gateway list and CA in this process, so that every call of a command keeps to the gateway that answered. */
const fetchers = new Map<string, FailoverFetch>();

/** The failover fetch over `gateway` (a `URL[,URL...]` list), trusting the CA `ca` (PEM) when given. */
export function gatewayFetch(gateway: string, ca?: string): FailoverFetch {
  const key = `${gateway}\n${ca ?? ""}`;
  let fetcher = fetchers.get(key);
  if (!fetcher) {
    fetcher = failoverFetch(gateway, ca === undefined ? {} : { fetch: fetchTrusting(ca) });
    fetchers.set(key, fetcher);
  }
  return fetcher;
}

/** The client library's connection to `gateway` (a list), with the token and CA of the command. */
export function connectionOf(opts: { readonly gateway: string; readonly token?: string | undefined; readonly ca?: string | undefined }): GatewayConnection {
  return connectionOver(gatewayFetch(opts.gateway, opts.ca), opts.token);
}

/** The edge library's HTTP helper over `gateway` (a list): requests fail over like the client library's. */
export function gatewayHttpOf(opts: { readonly gateway: string; readonly token?: string | undefined; readonly ca?: string | undefined }, limits: { readonly requestTimeoutMs: number; readonly attempts: number }): GatewayHttp {
  const fetcher = gatewayFetch(opts.gateway, opts.ca);
  return new GatewayHttp(fetcher.endpoints.urls[0] ?? fetcher.endpoints.current(), { ...limits, fetch: fetcher, ...(opts.token !== undefined ? { token: opts.token } : {}) });
}
