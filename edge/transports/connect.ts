// Picks the sync transport for a gateway address: QUIC (everything over QUIC; HTTP beside it, when
// given, as the fallback and as the other candidate for bulk transfers) when a quic:// address is
// given, HTTP otherwise. The HTTP address may name several gateways of a cluster (comma-separated):
// HttpTransport then fails over between them (http-failover.ts; docs/clients.md#several-gateways);
// QUIC takes one gateway.
import { StrataError } from "../../core/errors.ts";
import { HttpTransport } from "./http.ts";
import { type ChoiceListener, parseQuicUrl, type QuicTimeouts, QuicTransport, type TransportNotice } from "./quic.ts";
import type { SyncTransport } from "./transport.ts";

export interface GatewayAddress {
  /** http(s)://HOST:PORT of the gateway's HTTP API, or several gateways' separated by commas (a cluster). */
  readonly http?: string;
  /** quic://HOST:PORT of the gateway's QUIC endpoint. */
  readonly quic?: string;
  /** SHA-256 fingerprint (hex) of the gateway's QUIC certificate to pin (Bun). */
  readonly fingerprint?: string;
  /** PEM of a CA the gateway's certificate chains to: QUIC's (needed under Deno), and HTTPS's for an https:// address. */
  readonly ca?: string;
}

export interface ConnectOptions {
  readonly gateway: GatewayAddress;
  readonly timeouts: QuicTimeouts;
  /** The gateway token: a Bearer header on HTTP, the hello's token on QUIC. */
  readonly token?: string;
  readonly notice: TransportNotice;
  readonly onChoice?: ChoiceListener;
}

export function connectTransport(options: ConnectOptions): SyncTransport {
  const { gateway, timeouts, token, notice, onChoice } = options;
  const http = gateway.http ? new HttpTransport(gateway.http, timeouts.requestMs, token, gateway.ca) : null;
  if (gateway.quic) {
    const { host, port } = parseQuicUrl(gateway.quic);
    if (!gateway.fingerprint && !gateway.ca) {
      if (http) {
        notice(`no certificate fingerprint or CA for ${gateway.quic}: syncing over ${http.description}`);
        return http;
      }
      throw new StrataError("BAD_REQUEST", `QUIC needs the gateway certificate's fingerprint or CA to authenticate ${gateway.quic} (--fingerprint HEX / --ca FILE)`);
    }
    const address = { host, port, ...(gateway.fingerprint ? { fingerprint: gateway.fingerprint } : {}), ...(gateway.ca ? { ca: gateway.ca } : {}) };
    return new QuicTransport({ address, http, timeouts, notice, ...(token !== undefined ? { token } : {}), ...(onChoice ? { onChoice } : {}) });
  }
  if (http) return http;
  throw new StrataError("BAD_REQUEST", "no gateway address: give gateway.http or gateway.quic");
}
