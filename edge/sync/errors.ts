// Which failures of a sync step are worth retrying with backoff (the gateway or the link is
// down, slow or overloaded) and which need someone to look (the request itself is refused).
import { FAILOVER_CODES } from "../../core/client/failover-fetch.ts";
import { StrataError } from "../../core/errors.ts";
import { GatewayCertificateError } from "../../runtime/quic/connect.ts";

export function isTransient(e: unknown): boolean {
  if (!(e instanceof StrataError)) return true; // network and runtime errors: the link, not the data
  // FAILOVER_CODES: the gateway is away, or (in a cluster) a partition's lease is moving or the metadata database is away.
  return FAILOVER_CODES.has(e.code) || e.code === "STORAGE_ERROR" || e.code === "INTERNAL";
}

/**
 * Whether a failure ends the sync loop: the gateway refuses the node's token (missing, malformed,
 * expired, revoked), which no retry can mend. A token out of scope for one stream (FORBIDDEN)
 * only rests that stream, like any other refusal.
 */
export function isFatal(e: unknown): boolean {
  // So does a gateway certificate that is not the configured one (wrong fingerprint or CA).
  return (e instanceof StrataError && e.code === "UNAUTHENTICATED") || e instanceof GatewayCertificateError;
}

export function errorText(e: unknown): string {
  if (e instanceof StrataError) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}
