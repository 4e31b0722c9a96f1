// An HTTP proxy in front of a gateway that flips the last byte of every POST /v1/chunks/get
// answer (inside the last chunk's data, so the frame still parses but no longer hashes to its
// hash). Everything else, CORS preflights included, passes through unchanged.
const HOP_HEADERS = ["host", "content-length", "content-encoding", "transfer-encoding", "connection"];

function strip(headers: Headers): Headers {
  const out = new Headers(headers);
  for (const h of HOP_HEADERS) out.delete(h);
  return out;
}

export function startCorruptingProxy(gatewayUrl: string): { url: string; corrupted: () => number; stop(): Promise<void> } {
  let corrupted = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
      const upstream = await fetch(`${gatewayUrl}${url.pathname}${url.search}`, { method: request.method, headers: strip(request.headers), ...(body ? { body } : {}) });
      if (request.method !== "POST" || url.pathname !== "/v1/chunks/get" || !upstream.ok) {
        return new Response(upstream.body, { status: upstream.status, headers: strip(upstream.headers) });
      }
      const bytes = new Uint8Array(await upstream.arrayBuffer());
      if (bytes.length > 0) {
        bytes[bytes.length - 1]! ^= 0x01;
        corrupted++;
      }
      return new Response(bytes, { status: upstream.status, headers: strip(upstream.headers) });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, corrupted: () => corrupted, stop: () => server.stop(true) };
}
