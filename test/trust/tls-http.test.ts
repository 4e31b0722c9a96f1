// HTTPS on the HTTP port: `strata serve --tls-cert F --tls-key F` under Bun, Deno and Node, with a
// certificate made by openssl in the test. curl trusts it with --cacert (and refuses it without);
// the project's clients trust it with --ca: `strata edge run` syncs over https://, and the
// artefact client's GatewayHttp takes the CA; the CLI's client commands take --ca.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { GatewayHttp } from "../../edge/artefacts/gateway-http.ts";
import { loadTlsIdentity, type TlsIdentity } from "../../gateway/quic/tls.ts";
import { cli, cliOk } from "../edge/edge-fixtures.ts";
import { ensureNodeBuild, removeDir, ROOT, type Runtime, startGateway, tempDir } from "../helpers/gateway.ts";

let certDir: string;
let identity: TlsIdentity;
const keyFile = (): string => join(certDir, "tls", "quic-key.pem");
const dirs: string[] = [];

beforeAll(async () => {
  ensureNodeBuild();
  certDir = tempDir("strata-tls-cert-");
  // The project's own generator: openssl, SANs localhost, 127.0.0.1 and ::1.
  identity = await loadTlsIdentity({ dataDir: certDir });
});
afterAll(() => {
  removeDir(certDir);
  dirs.forEach(removeDir);
});

function curl(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync("curl", ["-sS", ...args], { encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("HTTPS on the HTTP port", () => {
  test.each<Runtime>(["bun", "deno", "node"])("%s gateway: curl with --cacert, refused without, the edge and artefact clients with the CA", async (runtime) => {
    const dataDir = tempDir("strata-tls-data-");
    dirs.push(dataDir);
    const gateway = await startGateway({ runtime, dataDir, args: ["--tls-cert", identity.certFile, "--tls-key", keyFile()] });
    try {
      expect(gateway.url).toStartWith("https://127.0.0.1:");
      const healthy = curl(["--cacert", identity.certFile, `${gateway.url}/healthz`]);
      expect(healthy.code).toBe(0);
      // Without the CA, curl rejects the certificate (exit 60: peer certificate cannot be authenticated).
      expect(curl([`${gateway.url}/healthz`]).code).toBe(60);
      // Plain HTTP on the port is not served.
      expect(curl([`${gateway.url.replace("https://", "http://")}/healthz`]).stdout).not.toContain("ok");

      const edgeDir = join(dataDir, "edge");
      await cliOk(["edge", "publish", "--data", edgeDir, "tls/edge"], `${JSON.stringify({ n: 1 })}\n${JSON.stringify({ n: 2 })}\n`);
      const run = await cli(["edge", "run", "--data", edgeDir, "--gateway", gateway.url, "--ca", identity.certFile, "--once"]).done;
      expect(run.code).toBe(0);
      const read = curl(["--cacert", identity.certFile, `${gateway.url}/v1/streams/tls%2Fedge/partitions/0/records?offset=0`]);
      expect((JSON.parse(read.stdout) as { records: { fields: { n: number } }[] }).records.map((r) => r.fields.n)).toEqual([1, 2]);

      const trusting = new GatewayHttp(gateway.url, { requestTimeoutMs: 10_000, attempts: 1, ca: identity.certPem });
      expect((await trusting.request("/healthz", { method: "GET" }, "health")).status).toBe(200);
      const untrusting = new GatewayHttp(gateway.url, { requestTimeoutMs: 10_000, attempts: 1 });
      await expect(untrusting.request("/healthz", { method: "GET" }, "health")).rejects.toThrow();
    } finally {
      await gateway.stop();
    }
  }, 120_000);

  test("the CLI's client commands take --ca: streams, publish, consume, push, pull, edge pins; Deno's fetch with the CA", async () => {
    const dataDir = tempDir("strata-tls-cli-");
    dirs.push(dataDir);
    const gateway = await startGateway({ dataDir, args: ["--tls-cert", identity.certFile, "--tls-key", keyFile()] });
    const trust = ["--gateway", gateway.url, "--ca", identity.certFile];
    try {
      await cliOk(["streams", "create", "tls/cli", "--quiet", ...trust]);
      await cliOk(["publish", "tls/cli", "--json", JSON.stringify({ n: 7 }), "--quiet", ...trust]);
      expect(JSON.parse(await cliOk(["consume", "tls/cli", "--max", "1", "--fields", "n", ...trust])).fields).toEqual({ n: 7 });
      expect((JSON.parse(await cliOk(["streams", "get", "tls/cli", "--json", ...trust])) as { partitions: unknown[] }).partitions.length).toBe(1);
      expect(await cliOk(["streams", "list", ...trust])).toContain("tls/cli");

      const file = join(dataDir, "model.bin");
      await Bun.write(file, new Uint8Array(300_000).map((_, i) => (i * 7919) % 251));
      await cliOk(["push", file, "--stream", "tls/models", "--quiet", ...trust]);
      const out = join(dataDir, "pulled.bin");
      await cliOk(["pull", "tls/models", out, "--cache", join(dataDir, "cache"), "--quiet", ...trust]);
      expect(Buffer.compare(Buffer.from(await Bun.file(out).arrayBuffer()), Buffer.from(await Bun.file(file).arrayBuffer()))).toBe(0);
      // An edge node's pin pulls through the CA too.
      const pinned = join(dataDir, "pinned.bin");
      const pin = await cli(["edge", "run", "--data", join(dataDir, "edge"), "--pin", `tls/models=${pinned}`, "--once", ...trust]).done;
      expect(pin.code).toBe(0);
      expect(Buffer.compare(Buffer.from(await Bun.file(pinned).arrayBuffer()), Buffer.from(await Bun.file(file).arrayBuffer()))).toBe(0);
      // Deno's fetch with the CA (a Deno HTTP client).
      const script = `import { fetchTrusting } from ${JSON.stringify(join(ROOT, "edge/transports/ca-fetch.ts"))}; const r = await fetchTrusting(Deno.readTextFileSync(${JSON.stringify(identity.certFile)}))(${JSON.stringify(`${gateway.url}/healthz`)}); console.log(r.status);`;
      const deno = spawnSync(join(ROOT, "node_modules/.bin/deno"), ["eval", script], { cwd: ROOT, encoding: "utf8" });
      expect(deno.stdout.trim()).toBe("200");

      // Without the CA the certificate is refused (exit 1); an unreadable --ca is a usage error (exit 2).
      const untrusted = await cli(["streams", "list", "--gateway", gateway.url]).done;
      expect(untrusted.code).toBe(1);
      const unreadable = await cli(["streams", "list", "--gateway", gateway.url, "--ca", join(dataDir, "missing.pem")]).done;
      expect(unreadable.code).toBe(2);
      expect(unreadable.stderr).toContain("--ca: cannot read");
    } finally {
      await gateway.stop();
    }
  }, 120_000);
});
