// The observability flags of `strata serve` reach the gateway's configuration: --no-request-metrics
// drops the HTTP request series from /metrics, --otlp-endpoint (and its environment variable)
// makes the gateway export the spans of a traced publish to that URL, a malformed endpoint is a
// usage error, and the JSON access log works the same under Deno.
import { afterEach, expect, test } from "bun:test";
import { createServer, type Server } from "node:http";
import { type GatewayProcess, removeDir, startGateway, tempDir, type Runtime } from "../helpers/gateway.ts";
import { startCli } from "../helpers/cli-process.ts";
import { accessRecords, collectLines, eventually } from "./logs-stderr.ts";

const dirs: string[] = [];
const gateways: GatewayProcess[] = [];
const servers: Server[] = [];

afterEach(async () => {
  for (const gw of gateways.splice(0)) await gw.stop();
  for (const dir of dirs.splice(0)) removeDir(dir);
  for (const server of servers.splice(0)) await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function start(args: string[], env: Record<string, string> = {}, runtime: Runtime = "bun"): Promise<GatewayProcess> {
  const dataDir = tempDir("strata-logs-flags-");
  dirs.push(dataDir);
  const gw = await startGateway({ dataDir, args, env, runtime, timeoutMs: 60_000 });
  gateways.push(gw);
  return gw;
}

async function publish(gw: GatewayProcess, headers: Record<string, string> = {}): Promise<void> {
  const response = await fetch(`${gw.url}/v1/streams/flags/records`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ records: [{ fields: { n: 1 } }] }) });
  expect(response.status).toBe(200);
  await response.arrayBuffer();
}

async function createStream(gw: GatewayProcess): Promise<void> {
  const response = await fetch(`${gw.url}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "flags" }) });
  expect(response.status).toBe(201);
  await response.arrayBuffer();
}

async function metricsText(gw: GatewayProcess): Promise<string> {
  const response = await fetch(`${gw.url}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

test("--no-request-metrics leaves the HTTP request series out of /metrics; they are there by default", async () => {
  const [plain, without] = await Promise.all([start([]), start(["--no-request-metrics"])]);
  for (const gw of [plain, without]) {
    await createStream(gw);
    await publish(gw);
  }
  expect(await metricsText(plain)).toMatch(/^strata_http_requests_total\{[^}]*route="\/v1\/streams\/:name\/records"[^}]*\} 1$/m);
  expect(await metricsText(without)).not.toMatch(/^strata_http_requests_total\{/m);
});

test("--otlp-endpoint (here from OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) sends a traced publish's span to that URL", async () => {
  const exports: string[] = [];
  const receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      exports.push(body);
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  servers.push(receiver);
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const address = receiver.address();
  if (address === null || typeof address === "string") throw new Error("the receiver has no port");
  const gw = await start([], { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${address.port}/v1/traces` });
  await createStream(gw);
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  await publish(gw, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
  // The export carries the publish's span, a child in the publisher's trace.
  await eventually(() => (exports.some((body) => body.includes(traceId)) ? true : undefined), "an OTLP export with the publish's trace id");
});

test("a malformed --otlp-endpoint is a usage error", async () => {
  const cli = startCli("http://127.0.0.1:9", ["serve", "--otlp-endpoint", "not a url"]);
  expect(await cli.exited).toBe(2);
  expect(cli.stderr()).toContain("--otlp-endpoint");
});

test("under Deno, --log-format json writes the access records on stderr", async () => {
  const gw = await start(["--log-format", "json"], {}, "deno");
  const lines = collectLines(gw.child);
  await createStream(gw);
  await publish(gw);
  const record = await eventually(() => accessRecords(lines).find((r) => r.properties.route === "/v1/streams/:name/records"), "the publish's access record");
  expect(record.properties).toMatchObject({ transport: "http", method: "POST", status: 200 });
  expect(lines.stdout().filter((l) => l.includes("strata.access"))).toEqual([]);
});
