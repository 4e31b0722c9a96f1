// The console ships inside the gateway on every runtime: the bundled CLI (dist/node/strata.mjs,
// what the npm package runs under Node) and Deno serve the same files, byte for byte, as the
// generated asset module, with their ETags.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { consoleAssets } from "../../gateway/console/assets.generated.ts";
import { ensureNodeBuild, removeDir, ROOT, startGateway, type GatewayProcess, type Runtime } from "../helpers/gateway.ts";

const gateways = new Map<Runtime, GatewayProcess>();

beforeAll(async () => {
  const build = spawnSync("npm", ["run", "-s", "build:console"], { cwd: ROOT, stdio: "pipe", encoding: "utf8" });
  if (build.status !== 0) throw new Error(`npm run build:console failed:\n${build.stdout}${build.stderr}`);
  ensureNodeBuild();
  for (const runtime of ["node", "deno"] as const) gateways.set(runtime, await startGateway({ runtime, timeoutMs: 60_000 }));
}, 300_000);

afterAll(async () => {
  for (const gw of gateways.values()) {
    await gw.stop();
    removeDir(gw.dataDir);
  }
});

describe("console assets on other runtimes", () => {
  for (const runtime of ["node", "deno"] as const) {
    test(`${runtime} serves every console file as built`, async () => {
      const gw = gateways.get(runtime)!;
      for (const asset of consoleAssets) {
        const response = await fetch(`${gw.url}/console/${asset.name}`);
        expect(response.status).toBe(200);
        expect(response.headers.get("content-type")).toBe(asset.contentType);
        expect(response.headers.get("etag")).toBe(asset.etag);
        expect(await response.text()).toBe(asset.body);
      }
    }, 60_000);
  }
});
