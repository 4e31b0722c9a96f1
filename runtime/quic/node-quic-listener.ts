// The QUIC server on node:quic (Bun).
import { createPrivateKey } from "node:crypto";
import { QUIC_ALPN } from "../../core/quic/frames.ts";
import { loadNodeQuic, wrapNodeSession } from "./node-quic.ts";
import type { OnQuicConnection, QuicListener, QuicListenOptions } from "./quic-listener.ts";

export async function listenNodeQuic(options: QuicListenOptions, onConnection: OnQuicConnection): Promise<QuicListener> {
  const quic = await loadNodeQuic();
  const { limits } = options;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const endpoint = await quic.listen(
    (session) => {
      session.onerror = () => undefined;
      // The handshake completes before the protocol matters; a session that never completes it
      // is dropped by QUIC's own handshake timeout.
      session.opened.then(
        (info) => {
          if (info.protocol !== QUIC_ALPN) return session.destroy();
          onConnection(wrapNodeSession(session, info.protocol));
        },
        () => undefined,
      );
    },
    {
      alpn: QUIC_ALPN,
      sni: { "*": { keys: [createPrivateKey(options.keyPem)], certs: [new TextEncoder().encode(options.certPem)] } },
      // node:quic destroys a peer-opened stream after 30 s without data by default; a control
      // stream may rightly idle that long. Streams are bounded by helloTimeoutMs until their
      // first frame, connections by the QUIC idle timeout.
      streamIdleTimeout: 0,
      // No stateless resets: under Bun 1.4, after answering garbage short-header datagrams with
      // stateless resets, the endpoint delayed new handshakes from that host by 1-2 s (and
      // answers on live connections by about 1 s) for seconds (test/edge/bad-frames.test.ts).
      // They would not help clients anyway: the reset secret is random per process, so after a
      // restart a reset never matches the token a client holds.
      endpoint: { address: `${host}:${options.port}`, maxConnectionsTotal: Math.min(limits.maxConnections, 65535), disableStatelessReset: true },
      transportParams: {
        // One control stream plus the bulk streams; the client may open no unidirectional ones.
        initialMaxStreamsBidi: limits.maxBulkStreams + 1,
        initialMaxStreamsUni: 0,
        // node:quic takes the idle timeout in seconds.
        maxIdleTimeout: Math.ceil(limits.idleTimeoutMs / 1000),
      },
    },
  );
  const port = endpoint.address?.port;
  if (port === undefined) throw new Error("node:quic endpoint has no address after listen");
  return {
    host: options.host,
    port,
    runtime: "bun",
    async close() {
      endpoint.destroy();
    },
  };
}
