// The logging flags of real `strata serve` processes (docs/logging.md): --no-access-log and
// --log-level warning print no access line (4xx answers still print at debug), --log-format text and pretty (also through
// STRATA_LOG_FORMAT) print one per request in their own form, and an unknown format is a usage
// error. A gateway that prints nothing is judged after it has exited, when all it wrote is in.
import { afterEach, expect, test } from "bun:test";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";
import { startCli } from "../helpers/cli-process.ts";
import { collectLines, eventually, type ProcessLines } from "./logs-stderr.ts";

const dirs: string[] = [];
const gateways: GatewayProcess[] = [];

afterEach(async () => {
  for (const gw of gateways.splice(0)) await gw.stop();
  for (const dir of dirs.splice(0)) removeDir(dir);
});

async function start(args: string[], env: Record<string, string> = {}): Promise<{ gw: GatewayProcess; lines: ProcessLines }> {
  const dataDir = tempDir("strata-logs-options-");
  dirs.push(dataDir);
  const gw = await startGateway({ dataDir, args, env });
  gateways.push(gw);
  return { gw, lines: collectLines(gw.child) };
}

/** Creates a stream and publishes to it: two requests that each get an access line when it is on. */
async function traffic(gw: GatewayProcess): Promise<void> {
  const created = await fetch(`${gw.url}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "logs-options" }) });
  expect(created.status).toBe(201);
  await created.arrayBuffer();
  const published = await fetch(`${gw.url}/v1/streams/logs-options/records`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ records: [{ fields: { n: 1 } }] }) });
  expect(published.status).toBe(200);
  await published.arrayBuffer();
}

test("--log-format text prints one line per request with the category and the fields", async () => {
  const { gw, lines } = await start(["--log-format", "text"]);
  await traffic(gw);
  const line = await eventually(() => lines.stderr().find((l) => l.includes("http POST /v1/streams/:name/records 200")), "the publish's text line");
  expect(line).toMatch(/^\d{4}-\d\d-\d\dT\S+ \[INF\] strata\.access: http POST \/v1\/streams\/:name\/records 200 [\d.]+ ms in \d+ B out \d+ B$/);
  expect(lines.stderr().some((l) => l.startsWith("{"))).toBe(false);
});

test("--log-format pretty (here from STRATA_LOG_FORMAT) prints the access records", async () => {
  const { gw, lines } = await start([], { STRATA_LOG_FORMAT: "pretty" });
  await traffic(gw);
  const line = await eventually(() => lines.stderr().find((l) => l.includes("http POST /v1/streams/:name/records 200")), "the publish's pretty line");
  // Not the text format's `[INF] strata.access:` and not JSON.
  expect(line).not.toContain("[INF]");
  expect(line.startsWith("{")).toBe(false);
});

test("--no-access-log prints no access line; 4xx answers are still logged at debug with their code", async () => {
  const { gw, lines } = await start(["--log-format", "json", "--log-level", "debug", "--no-access-log"]);
  await traffic(gw);
  const missing = await fetch(`${gw.url}/v1/streams/logs-missing`);
  expect(missing.status).toBe(404);
  await missing.arrayBuffer();
  // Written after the requests above: once it is in, their access lines would be too.
  const debug = await eventually(() => lines.stderr().find((l) => l.includes("STREAM_NOT_FOUND")), "the 404's debug line");
  expect(JSON.parse(debug)).toMatchObject({ level: "DEBUG", logger: "strata.http", properties: { status: 404, code: "STREAM_NOT_FOUND", method: "GET", path: "/v1/streams/logs-missing" } });
  expect(lines.stderr().filter((l) => l.includes("strata.access"))).toEqual([]);
});

test("--log-level warning hides the access lines", async () => {
  const { gw, lines } = await start(["--log-format", "json", "--log-level", "warning"]);
  await traffic(gw);
  await gw.stop();
  expect(lines.stderr().filter((l) => l.includes("strata.access"))).toEqual([]);
});

test("an unknown --log-format is a usage error naming the choices", async () => {
  const cli = startCli("http://127.0.0.1:9", ["serve", "--log-format", "xml"]);
  expect(await cli.exited).toBe(2);
  expect(cli.stderr()).toContain("--log-format");
  expect(cli.stderr()).toContain("json");
});
