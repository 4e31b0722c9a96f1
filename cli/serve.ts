import { openGateway, type GatewayConfig } from "../gateway/gateway.ts";
import { serve } from "../gateway/http/serve.ts";
import { quicUnsupportedReason } from "../runtime/quic/listen.ts";
import { startQuicServer, type QuicServer } from "../gateway/quic/server.ts";
import { flag, parseArgs, UsageError, type Command } from "./command.ts";

const usage = `usage: strata serve [--data DIR] [--host 127.0.0.1] [--port 7070]
                    [--s3-endpoint URL --s3-bucket B [--s3-prefix P] [--s3-region R]]
                    [--db-url URL] [--quic-port N [--tls-cert FILE --tls-key FILE]]
                    [--cors-origin ORIGIN]...

Runs the gateway. By default everything lives under ./data: the WAL and segment cache, the
embedded libSQL metadata file, and the object-store directory. With --s3-bucket, sealed
segments go to S3-compatible storage (credentials from AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY; path-style addressing). --db-url (or STRATA_DB_URL) selects another
libSQL database (STRATA_DB_AUTH_TOKEN for its token).

--quic-port also serves the QUIC protocol (ALPN strata/1, docs/quic-protocol.md) on that UDP
port (0: any free port) of --host, under Bun, or Deno with --unstable-net; Node serves HTTP only.
Without --tls-cert/--tls-key a self-signed certificate is generated once into DATA/tls (with
the openssl CLI); its file and SHA-256 fingerprint are printed for clients to pin
(--ca FILE or --fingerprint HEX).

--cors-origin (repeatable) lets browser pages served from ORIGIN (e.g. http://localhost:8080)
call the HTTP API; without it no cross-origin access is granted.`;

function origin(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--cors-origin must be an origin like http://localhost:8080, got ${value}`);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.origin !== value.replace(/\/+$/, "")) {
    throw new UsageError(`--cors-origin must be an origin like http://localhost:8080, got ${value}`);
  }
  return url.origin;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port must be 0..65535, got ${value}`);
  return n;
}

export const serveCommand: Command = {
  name: "serve",
  summary: "run the gateway (HTTP API on 127.0.0.1:7070 by default)",
  usage,
  async run(args) {
    const parsed = parseArgs(args, ["data", "host", "port", "s3-endpoint", "s3-bucket", "s3-prefix", "s3-region", "db-url", "quic-port", "tls-cert", "tls-key", "cors-origin"]);
    if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument ${parsed.positionals[0]}`);
    const quicPort = flag(parsed, "quic-port");
    const tlsCert = flag(parsed, "tls-cert");
    const tlsKey = flag(parsed, "tls-key");
    if ((tlsCert === undefined) !== (tlsKey === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
    if (quicPort !== undefined) port(quicPort);
    const bucket = flag(parsed, "s3-bucket");
    const endpoint = flag(parsed, "s3-endpoint");
    if (endpoint && !bucket) throw new UsageError("--s3-endpoint needs --s3-bucket");
    const dbUrl = flag(parsed, "db-url") ?? process.env.STRATA_DB_URL;
    const dbAuthToken = process.env.STRATA_DB_AUTH_TOKEN;
    const corsOrigins = (parsed.flags.get("cors-origin") ?? []).map(origin);
    const config: GatewayConfig = {
      dataDir: flag(parsed, "data") ?? "data",
      ...(corsOrigins.length > 0 ? { corsOrigins } : {}),
      ...(dbUrl ? { dbUrl } : {}),
      ...(dbAuthToken ? { dbAuthToken } : {}),
      ...(bucket
        ? { s3: { bucket, ...(endpoint ? { endpoint } : {}), prefix: flag(parsed, "s3-prefix") ?? "", ...(flag(parsed, "s3-region") ? { region: flag(parsed, "s3-region")! } : {}) } }
        : {}),
    };
    const gateway = await openGateway(config);
    const server = await serve(gateway.app.fetch, {
      host: flag(parsed, "host") ?? "127.0.0.1",
      port: port(flag(parsed, "port") ?? "7070"),
      maxRequestBytes: gateway.services.limits.maxRequestBytes,
    });
    console.log(`strata gateway listening on ${server.url} (${server.runtime}; data ${config.dataDir}; objects ${gateway.objectStore.description})`);
    let quic: QuicServer | undefined;
    if (quicPort !== undefined) {
      const unsupported = quicUnsupportedReason();
      if (unsupported) {
        console.log(`strata gateway: QUIC not served (${unsupported}); serving HTTP only`);
      } else {
        quic = await startQuicServer(gateway.services, {
          host: flag(parsed, "host") ?? "127.0.0.1",
          port: port(quicPort),
          dataDir: config.dataDir,
          ...(tlsCert && tlsKey ? { certFile: tlsCert, keyFile: tlsKey } : {}),
        });
        const l = quic.listener;
        const host = l.host.includes(":") ? `[${l.host}]` : l.host;
        console.log(`strata gateway QUIC listening on quic://${host}:${l.port} (${l.runtime}; ALPN strata/1; certificate ${quic.tls.certFile}${quic.tls.generated ? ", generated now" : ""}; SHA-256 fingerprint ${quic.tls.fingerprint})`);
      }
    }
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    await quic?.close();
    await server.close();
    await gateway.close();
    return 0;
  },
};
