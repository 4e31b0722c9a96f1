// The credential a gateway forwards with when a publish or read has no caller of its own: the
// services' internal appends (checkpoint completion records, gradient contributions, dead
// letters) reach a partition's leader like any other forwarded request, and with auth on the
// leader verifies a bearer token. Every gateway of a cluster signs with the shared key
// (cluster_secrets), so a token this gateway issues verifies on all of them. It is issued to one
// subject for the whole cluster (producer ids the services use stay theirs on every gateway),
// with publish and consume on every stream, kept in memory only and renewed at half its life.
import type { TokenService } from "../auth/token-service.ts";
import { SingleFlight } from "../../core/util/single-flight.ts";

/** The subject of the gateways' own tokens. */
export const GATEWAY_SUBJECT = "strata-gateways";
/** Lifetime of one internal token (renewed after half of it). */
export const GATEWAY_TOKEN_TTL_S = 3_600;

/** An `Authorization` header value for the gateway's own forwards, issued on first use and renewed at half its life. */
export function gatewayCredential(tokens: Pick<TokenService, "issue">, now: () => number = Date.now): () => Promise<string> {
  let held: { readonly header: string; readonly renewAt: number } | undefined;
  const issuing = new SingleFlight<"token", string>();
  return async () => {
    if (held !== undefined && now() < held.renewAt) return held.header;
    return issuing.run("token", async () => {
      const issued = await tokens.issue({
        subject: GATEWAY_SUBJECT,
        ttlS: GATEWAY_TOKEN_TTL_S,
        scopes: [
          { action: "publish", streams: ">" },
          { action: "consume", streams: ">" },
        ],
      });
      held = { header: `Bearer ${issued.token}`, renewAt: now() + (GATEWAY_TOKEN_TTL_S * 1000) / 2 };
      return held.header;
    });
  };
}
