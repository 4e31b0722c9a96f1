// Serves a fetch handler on whichever runtime is running: Bun.serve, Deno.serve, or
// @hono/node-server under Node; over TLS (HTTPS on the same port) when given a certificate.

export interface Server {
  readonly url: string;
  readonly runtime: "bun" | "deno" | "node";
  close(): Promise<void>;
}

type FetchHandler = (request: Request) => Response | Promise<Response>;

interface BunLike {
  serve(options: { hostname: string; port: number; fetch: FetchHandler; idleTimeout: number; maxRequestBodySize: number; tls?: { cert: string; key: string } }): {
    port: number;
    stop(force?: boolean): Promise<void> | void;
  };
}
interface DenoLike {
  serve(
    options: { hostname: string; port: number; onListen?: (addr: { port: number }) => void; cert?: string; key?: string },
    handler: FetchHandler,
  ): { addr: { port: number }; shutdown(): Promise<void> };
}

export interface ServeOptions {
  readonly host: string;
  readonly port: number;
  /** The largest body any route accepts (ResolvedGatewayConfig.http.maxBodyBytes). */
  readonly maxRequestBytes: number;
  /** Idle timeout of a connection; it must outlast the longest long-poll (ResolvedGatewayConfig.http.idleTimeoutSeconds, 60 s by default). */
  readonly idleTimeoutSeconds?: number;
  /** Serve HTTPS with this certificate chain and private key (PEM text); plain HTTP without. */
  readonly tls?: { readonly certPem: string; readonly keyPem: string };
}

/** Bun's longest idle timeout. */
const MAX_IDLE_TIMEOUT_SECONDS = 255;

export async function serve(fetch: FetchHandler, options: ServeOptions): Promise<Server> {
  const g = globalThis as { Bun?: BunLike; Deno?: DenoLike };
  const hostForUrl = options.host.includes(":") ? `[${options.host}]` : options.host;
  const scheme = options.tls ? "https" : "http";
  const tls = options.tls ? { cert: options.tls.certPem, key: options.tls.keyPem } : undefined;
  if (g.Bun) {
    // Bun's own body cap answers with a bare 413 (even to a 2 GB Content-Length it never reads), so
    // it is lifted: the app's limitBody refuses by the header, with the JSON error, and counts chunked bodies.
    const idleTimeout = Math.min(MAX_IDLE_TIMEOUT_SECONDS, options.idleTimeoutSeconds ?? 60);
    const server = g.Bun.serve({ hostname: options.host, port: options.port, fetch, idleTimeout, maxRequestBodySize: Number.MAX_SAFE_INTEGER, ...(tls ? { tls } : {}) });
    return { url: `${scheme}://${hostForUrl}:${server.port}`, runtime: "bun", close: async () => void (await server.stop(true)) };
  }
  if (g.Deno) {
    const server = g.Deno.serve({ hostname: options.host, port: options.port, onListen: () => undefined, ...tls }, fetch);
    return { url: `${scheme}://${hostForUrl}:${server.addr.port}`, runtime: "deno", close: () => server.shutdown() };
  }
  const { serve: nodeServe } = await import("@hono/node-server");
  const { createServer: createHttpsServer } = await import("node:https");
  const secure = tls ? { createServer: createHttpsServer, serverOptions: tls } : {};
  return new Promise((resolve) => {
    const server = nodeServe({ fetch, hostname: options.host, port: options.port, ...secure }, (info) => {
      resolve({
        url: `${scheme}://${hostForUrl}:${info.port}`,
        runtime: "node",
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
