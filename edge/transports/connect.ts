// Picks the sync transport for a gateway address.
import { StrataError } from "../../core/errors.ts";
import { HttpTransport } from "./http.ts";
import type { SyncTransport } from "./transport.ts";

export interface GatewayAddress {
  /** http(s)://HOST:PORT of the gateway's HTTP API. */
  readonly http?: string;
  /** quic://HOST:PORT of the gateway's QUIC endpoint. */
  readonly quic?: string;
  /** SHA-256 fingerprint (hex) of the gateway's QUIC certificate to pin. */
  readonly fingerprint?: string;
}

/**
 * The transport to sync over. This build has no QUIC client yet: a `quic` address alone is
 * refused with a clear error, and beside an `http` address the HTTP one is used.
 */
export function connectTransport(gateway: GatewayAddress, requestTimeoutMs: number): SyncTransport {
  if (gateway.http) return new HttpTransport(gateway.http, requestTimeoutMs);
  if (gateway.quic) {
    throw new StrataError("UNAVAILABLE", `no QUIC sync transport in this build for ${gateway.quic}: give the gateway's HTTP address too (gateway.http / --http URL)`);
  }
  throw new StrataError("BAD_REQUEST", "no gateway address: give gateway.http (or gateway.quic)");
}
