// The gateway's QUIC transport: certificate, listener, and a connection handler over the same
// services as HTTP.
import type { QuicConnection } from "../../core/quic/stream.ts";
import type { GatewayServices } from "../services.ts";
import { StrataError } from "../../core/errors.ts";
import type { HelloGate } from "./connection-auth.ts";
import { serveConnection } from "./connection.ts";
import { resolveQuicLimits, type QuicLimits } from "./quic-limits.ts";
import { listenQuic } from "../../runtime/quic/listen.ts";
import type { QuicListener } from "../../runtime/quic/quic-listener.ts";
import { loadTlsIdentity, type TlsIdentity } from "./tls.ts";

export interface QuicServerOptions {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly limits?: Partial<QuicLimits>;
  /**
   * A shared secret clients must present in hello, for a gateway without --auth (the library's
   * option from before signed tokens: it admits a connection but names no subject and grants
   * every scope). With auth on, hello carries a signed token instead and this must be unset.
   */
  readonly token?: string;
}

/** With auth on (services.auth holds tokens), hello must carry a token it verifies; requests are authorized by its scopes. */
function helloGate(services: GatewayServices, options: QuicServerOptions): HelloGate {
  if (services.auth.kind === "tokens") {
    if (options.token !== undefined) throw new StrataError("BAD_REQUEST", "with auth on, QUIC clients present signed tokens: a shared QUIC token cannot be set too");
    return { kind: "signed-token", verifier: services.auth };
  }
  if (options.token !== undefined) return { kind: "shared-token", token: options.token };
  return { kind: "open" };
}

export interface QuicServer {
  readonly listener: QuicListener;
  readonly tls: TlsIdentity;
  close(): Promise<void>;
}

export async function startQuicServer(services: GatewayServices, options: QuicServerOptions): Promise<QuicServer> {
  const limits: QuicLimits = resolveQuicLimits(options.limits);
  const gate = helloGate(services, options);
  const tls = await loadTlsIdentity({
    dataDir: options.dataDir,
    names: [options.host],
    ...(options.certFile ? { certFile: options.certFile } : {}),
    ...(options.keyFile ? { keyFile: options.keyFile } : {}),
  });
  const connections = new Set<QuicConnection>();
  const listener = await listenQuic({ host: options.host, port: options.port, certPem: tls.certPem, keyPem: tls.keyPem, limits }, (connection) => {
    connections.add(connection);
    void connection.closed.then(() => connections.delete(connection));
    serveConnection(connection, services, { limits, gate });
  });
  return {
    listener,
    tls,
    async close() {
      await Promise.allSettled([...connections].map((c) => c.close(0, "gateway closing")));
      await listener.close();
    },
  };
}
