// A real gateway in this process: openGateway on a temp directory, served by Bun.serve on a free
// loopback port, talked to with fetch. For tests that need no process boundary.
import { openGateway, type Gateway, type GatewayConfig } from "../../gateway/gateway.ts";
import { serve, type Server } from "../../gateway/http/serve.ts";
import { removeDir, tempDir } from "./gateway.ts";

export interface LiveGateway {
  readonly url: string;
  readonly gateway: Gateway;
  readonly dataDir: string;
  close(): Promise<void>;
}

export async function liveGateway(config: Partial<GatewayConfig> = {}): Promise<LiveGateway> {
  const dataDir = config.dataDir ?? tempDir();
  const gateway = await openGateway({ ...config, dataDir });
  const server: Server = await serve(gateway.app.fetch, { host: "127.0.0.1", port: 0, maxRequestBytes: gateway.config.http.maxBodyBytes, idleTimeoutSeconds: gateway.config.http.idleTimeoutSeconds });
  // Cluster mode: announce the URL and take a share of the partitions (a no-op otherwise).
  await gateway.startCluster(server.url);
  return {
    url: server.url,
    gateway,
    dataDir,
    async close() {
      await server.close();
      await gateway.close();
      if (!config.dataDir) removeDir(dataDir);
    },
  };
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}
