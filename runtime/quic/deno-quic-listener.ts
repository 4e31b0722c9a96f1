// The QUIC server on Deno.QuicEndpoint (deno run --unstable-net).
import { getLogger } from "@logtape/logtape";
import { QUIC_ALPN } from "../../core/quic/frames.ts";
import { denoQuic, wrapDenoConn } from "./deno-quic.ts";
import type { OnQuicConnection, QuicListener, QuicListenOptions } from "./quic-listener.ts";

const log = getLogger(["strata", "quic"]);

export async function listenDenoQuic(options: QuicListenOptions, onConnection: OnQuicConnection): Promise<QuicListener> {
  const deno = denoQuic();
  const { limits } = options;
  const endpoint = new deno.QuicEndpoint({ hostname: options.host, port: options.port });
  const listener = endpoint.listen({
    cert: options.certPem,
    key: options.keyPem,
    alpnProtocols: [QUIC_ALPN],
    // One control stream plus the bulk streams; the client may open no unidirectional ones.
    maxConcurrentBidirectionalStreams: limits.maxBulkStreams + 1,
    maxConcurrentUnidirectionalStreams: 0,
    maxIdleTimeout: limits.idleTimeoutMs,
  });
  let open = 0;
  let closing = false;
  void (async () => {
    try {
      for await (const incoming of listener) {
        if (open >= limits.maxConnections) {
          incoming.refuse();
          continue;
        }
        open++;
        incoming.accept().then(
          (conn) => {
            const connection = wrapDenoConn(conn);
            void connection.closed.then(() => open--);
            if (conn.protocol !== undefined && conn.protocol !== QUIC_ALPN) void connection.close(0, "wrong ALPN");
            else onConnection(connection);
          },
          () => open--,
        );
      }
    } catch (e) {
      if (!closing) log.error("QUIC listener stopped: {error}", { error: e });
    }
  })();
  return {
    host: options.host,
    port: endpoint.addr.port,
    runtime: "deno",
    async close() {
      closing = true;
      listener.stop();
      endpoint.close({ closeCode: 0, reason: "gateway closing" });
    },
  };
}
