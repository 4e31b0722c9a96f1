// `strata pull --via ucx://` against a gateway process serving --ucx-port: byte-identical pulls
// under Bun (the CLI), Node and Deno (the client library in a child process), over TCP only and
// over shared memory; the gateway SIGKILLed mid-transfer: the pull says why, continues over HTTP
// (the gateway restarted on the same port) and ends byte-identical.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pullArtefact, pushArtefact } from "../../edge/artefacts/index.ts";
import { ucxPullSource } from "../../edge/transports/ucx-pull.ts";
import { freePort } from "../edge/edge-fixtures.ts";
import { removeDir, ROOT, startGateway, tempDir, type GatewayProcess } from "../helpers/gateway.ts";
import { RUNTIME_BINARIES, ucxForTests } from "../helpers/ucx.ts";
import { sha256File, startUcxGateway, waitFor, type UcxGateway } from "./ucx-fixtures.ts";

setDefaultTimeout(120_000);

const ready = ucxForTests().available;
const CLIENT = join(ROOT, "test", "ucx", "fixtures", "ucx-pull-client.ts");
const MiB = 1024 * 1024;

const dir = tempDir("strata-ucx-pull-");
const file = join(dir, "model.bin");
const processes: GatewayProcess[] = [];
let artefact = "";
let expected = "";

async function served(env: Record<string, string> = {}, args: string[] = [], dataDir?: string): Promise<UcxGateway> {
  const started = await startUcxGateway({ env, args, ...(dataDir !== undefined ? { dataDir } : {}) });
  processes.push(started.gw);
  return started;
}

function clientRun(runtime: "node" | "deno", gateway: UcxGateway, out: string, env: Record<string, string>) {
  const args = [gateway.gw.url, gateway.ucxUrl, artefact, out, join(dir, `cache-${runtime}-${Math.random()}`)];
  const [bin, argv] =
    runtime === "deno" ? [RUNTIME_BINARIES.deno, ["run", "--allow-ffi", "--allow-read", "--allow-write", "--allow-env", "--allow-sys", "--allow-net", CLIENT, ...args]] : [RUNTIME_BINARIES.node, [CLIENT, ...args]];
  return spawnSync(bin, argv, { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env }, timeout: 120_000 });
}

beforeAll(async () => {
  if (!ready) return;
  writeFileSync(file, randomBytes(24 * MiB));
  expected = sha256File(file);
});

afterAll(async () => {
  for (const p of processes) await p.kill();
  removeDir(dir);
});

for (const [name, tls] of [
  ["TCP only", "tcp"],
  ["shared memory", "posix,sysv,cma,tcp"],
] as const) {
  describe.skipIf(!ready)(`strata pull --via ucx:// (${name}, UCX_TLS=${tls})`, () => {
    const env = { UCX_TLS: tls };
    let gateway: UcxGateway;

    beforeAll(async () => {
      gateway = await served(env, [], join(dir, `data-${tls}`));
      artefact = (await pushArtefact({ gateway: gateway.gw.url, file, stream: "models/ucx" })).artefact;
    });

    test("the CLI under Bun: byte-identical, no fallback", () => {
      const out = join(dir, `bun-${tls}.bin`);
      const run = spawnSync(process.execPath, [join(ROOT, "cli/main.ts"), "pull", "models/ucx", out, "--gateway", gateway.gw.url, "--via", gateway.ucxUrl, "--cache", join(dir, `cache-bun-${tls}`), "--json"], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, ...env },
      });
      expect(run.stderr).not.toContain("continuing over HTTP");
      expect(run.status).toBe(0);
      expect(JSON.parse(run.stdout).bytes_transferred).toBe(24 * MiB);
      expect(sha256File(out)).toBe(expected);
    });

    for (const runtime of ["node", "deno"] as const) {
      test(`the client library under ${runtime}: byte-identical, no fallback`, () => {
        const out = join(dir, `${runtime}-${tls}.bin`);
        const run = clientRun(runtime, gateway, out, env);
        expect(run.stderr).toBe("");
        expect(run.status).toBe(0);
        expect(JSON.parse(run.stdout)).toEqual({ bytes: 24 * MiB, fallback: [] });
        expect(sha256File(out)).toBe(expected);
      });
    }
  });
}

describe.skipIf(!ready)("the gateway killed mid-transfer", () => {
  test("the pull says why, continues over HTTP once the gateway is back, and is byte-identical", async () => {
    const port = await freePort();
    const dataDir = join(dir, "data-kill");
    const first = await served({}, ["--port", String(port)], dataDir);
    const id = (await pushArtefact({ gateway: first.gw.url, file, stream: "models/kill" })).artefact;
    const fallbacks: string[] = [];
    const ucx = ucxPullSource({ via: first.ucxUrl, gateway: first.gw.url, onFallback: (m) => fallbacks.push(m), limits: { attempts: 8 } });
    let done = 0;
    const out = join(dir, "killed.bin");
    // Paced so the kill lands mid-transfer.
    const pull = pullArtefact({ chunkSource: ucx.source, source: id, out, cacheDir: join(dir, "cache-kill"), limits: { maxBytesPerSecond: 6 * MiB }, onProgress: (p) => (done = p.bytesDone) });
    try {
      await waitFor(() => done >= 4 * MiB, "4 MiB pulled over UCX");
      await first.gw.kill();
      await waitFor(() => fallbacks.length > 0, "the fallback to HTTP");
      const again = await startGateway({ dataDir, args: ["--port", String(port)] });
      processes.push(again);
      const summary = await pull;
      expect(summary.bytesTotal).toBe(24 * MiB);
      expect(sha256File(out)).toBe(expected);
      expect(fallbacks).toHaveLength(1);
      expect(fallbacks[0]).toContain(`UCX ${first.ucxUrl} failed`);
      expect(fallbacks[0]).toContain("continuing over HTTP");
    } finally {
      await pull.catch(() => undefined);
      await ucx.close();
    }
  });
});
