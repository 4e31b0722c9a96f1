// A tiny static file server for the example page: serves the repository's examples/browser/ and
// dist/browser/ (nothing else) on a port of its own, so the page has another origin than the
// gateway.
import { join, normalize } from "node:path";
import { ROOT } from "../helpers/gateway.ts";

const ALLOWED = ["examples/browser/", "dist/browser/"];
const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8" };

export function startStaticServer(): { url: string; stop(): Promise<void> } {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const path = normalize(decodeURIComponent(new URL(request.url).pathname)).replace(/^\/+/, "");
      if (!ALLOWED.some((prefix) => path.startsWith(prefix)) || path.includes("..")) return new Response("not found", { status: 404 });
      const file = Bun.file(join(ROOT, path));
      if (!(await file.exists())) return new Response("not found", { status: 404 });
      const ext = path.slice(path.lastIndexOf("."));
      return new Response(file, { headers: { "content-type": TYPES[ext] ?? "application/octet-stream", "cache-control": "no-store" } });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}
