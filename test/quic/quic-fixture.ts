// A real gateway in this process with its QUIC transport on a free loopback UDP port, and
// helpers to talk raw frames to it.
import { openGateway, type Gateway } from "../../gateway/gateway.ts";
import type { QuicLimits } from "../../gateway/quic/quic-limits.ts";
import { startQuicServer, type QuicServer } from "../../gateway/quic/server.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";

export interface QuicGateway {
  readonly gateway: Gateway;
  readonly quic: QuicServer;
  readonly port: number;
  readonly ca: string;
  readonly fingerprint: string;
  close(): Promise<void>;
}

export async function quicGateway(limits: Partial<QuicLimits> = {}): Promise<QuicGateway> {
  const dataDir = tempDir("strata-quic-");
  const gateway = await openGateway({ dataDir, artefacts: { gcIntervalMs: 0 } });
  const quic = await startQuicServer(gateway.services, { host: "127.0.0.1", port: 0, dataDir, limits });
  return {
    gateway,
    quic,
    port: quic.listener.port,
    ca: quic.tls.certPem,
    fingerprint: quic.tls.fingerprint,
    async close() {
      await quic.close();
      await gateway.close();
      removeDir(dataDir);
    },
  };
}
