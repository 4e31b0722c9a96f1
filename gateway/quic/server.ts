// The gateway's QUIC transport: certificate, listener, and a connection handler over the same
// services as HTTP.
import type { QuicConnection } from "../../core/quic/stream.ts";
import type { GatewayServices } from "../services.ts";
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
  /** When set, clients must present it in hello. */
  readonly token?: string;
}

export interface QuicServer {
  readonly listener: QuicListener;
  readonly tls: TlsIdentity;
  close(): Promise<void>;
}

export async function startQuicServer(services: GatewayServices, options: QuicServerOptions): Promise<QuicServer> {
  const limits: QuicLimits = resolveQuicLimits(options.limits);
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
    serveConnection(connection, services, { limits, ...(options.token !== undefined ? { token: options.token } : {}) });
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
