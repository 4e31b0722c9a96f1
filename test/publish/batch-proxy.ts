// A proxy in front of a real gateway that notes each request's Content-Type and, where `refuses`
// says, answers a client-built batch with 415 as a gateway without batches would.
import { CLIENT_BATCH_MEDIA_TYPE } from "../../core/log/client-batch.ts";

export interface BatchProxy {
  readonly url: string;
  /** Content-Types of the requests so far; clear it with `seen.length = 0`. */
  readonly seen: string[];
  stop(): void;
}

export function startBatchProxy(target: string, refuses: (url: URL) => boolean): BatchProxy {
  const seen: string[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const url = new URL(request.url);
      const type = request.headers.get("content-type") ?? "";
      seen.push(type);
      if (type === CLIENT_BATCH_MEDIA_TYPE && refuses(url)) return Response.json({ error: { code: "UNSUPPORTED_MEDIA_TYPE", message: "no client-built batches here" } }, { status: 415 });
      return fetch(`${target}${url.pathname}${url.search}`, { method: request.method, headers: request.headers, body: await request.arrayBuffer() });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, seen, stop: () => server.stop(true) };
}
