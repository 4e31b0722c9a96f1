// The access log of a real `strata serve --auth --log-format json` process: a publish, a read, an
// unknown stream and an unknown route each give one JSON line on stderr (never stdout) with the
// route pattern, status, error code, duration, bytes in and out, and the token's subject.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { z } from "zod";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";
import { accessRecords, collectLines, eventually, type AccessRecord, type ProcessLines } from "./logs-stderr.ts";

const ADMIN_TOKEN = "logs-access-admin-token-0123456789abcdef";
const SUBJECT = "camera-rig-7";
const stream = "logs/access";
const streamPath = `/v1/streams/${encodeURIComponent(stream)}`;

let dataDir: string;
let gw: GatewayProcess;
let lines: ProcessLines;
let token: string;

const issued = z.object({ token: z.string() });

beforeAll(async () => {
  dataDir = tempDir("strata-logs-access-");
  gw = await startGateway({ dataDir, args: ["--auth", "--log-format", "json"], env: { STRATA_ADMIN_TOKEN: ADMIN_TOKEN } });
  lines = collectLines(gw.child);
  const response = await fetch(`${gw.url}/v1/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ scopes: [{ action: "publish", streams: "logs/>" }, { action: "consume", streams: "logs/>" }], ttl_s: 3600, subject: SUBJECT }),
  });
  expect(response.status).toBe(201);
  token = issued.parse(await response.json()).token;
  const created = await fetch(`${gw.url}/v1/streams`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ name: stream }) });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await gw.stop();
  removeDir(dataDir);
});

/** The one access record of `method route` with `status` that is not among `seen`. */
function awaitRecord(method: string, route: string, status: number, seen: number): Promise<AccessRecord> {
  return eventually(() => {
    const matching = accessRecords(lines).filter((r) => r.properties.method === method && r.properties.route === route && r.properties.status === status);
    return matching.length > seen ? matching[seen] : undefined;
  }, `the access record of ${method} ${route} ${status}`);
}

function count(method: string, route: string, status: number): number {
  return accessRecords(lines).filter((r) => r.properties.method === method && r.properties.route === route && r.properties.status === status).length;
}

test("a publish logs its route pattern, status, duration, bytes in and out and the token's subject", async () => {
  const body = JSON.stringify({ records: [{ fields: { frame: 1, label: "cat" } }, { fields: { frame: 2, label: "dog" } }] });
  const before = count("POST", "/v1/streams/:name/records", 200);
  const response = await fetch(`${gw.url}${streamPath}/records`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body });
  expect(response.status).toBe(200);
  const answer = new Uint8Array(await response.arrayBuffer());
  const record = await awaitRecord("POST", "/v1/streams/:name/records", 200, before);
  expect(record.properties).toMatchObject({ transport: "http", bytes_in: body.length, bytes_out: answer.length, subject: SUBJECT });
  expect(record.properties.code).toBeUndefined();
  expect(record.properties.duration_ms).toBeGreaterThan(0);
  expect(record.message).toContain("POST /v1/streams/:name/records 200");
});

test("a read logs the bytes of the records it sent", async () => {
  const before = count("GET", "/v1/streams/:name/partitions/:partition/records", 200);
  const response = await fetch(`${gw.url}${streamPath}/partitions/0/records?offset=0`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status).toBe(200);
  const answer = new Uint8Array(await response.arrayBuffer());
  expect(answer.length).toBeGreaterThan(0);
  const record = await awaitRecord("GET", "/v1/streams/:name/partitions/:partition/records", 200, before);
  expect(record.properties).toMatchObject({ bytes_in: 0, bytes_out: answer.length, subject: SUBJECT });
});

test("an unknown stream and an unknown route log 404 with their error codes", async () => {
  const beforeStream = count("GET", "/v1/streams/:name", 404);
  const missing = await fetch(`${gw.url}/v1/streams/${encodeURIComponent("logs/missing")}`, { headers: { authorization: `Bearer ${token}` } });
  expect(missing.status).toBe(404);
  const missingBytes = (await missing.arrayBuffer()).byteLength;
  const streamRecord = await awaitRecord("GET", "/v1/streams/:name", 404, beforeStream);
  expect(streamRecord.properties).toMatchObject({ code: "STREAM_NOT_FOUND", bytes_out: missingBytes, subject: SUBJECT });

  const beforeRoute = count("GET", "(unmatched)", 404);
  const noRoute = await fetch(`${gw.url}/v1/no/such/route`, { headers: { authorization: `Bearer ${token}` } });
  expect(noRoute.status).toBe(404);
  await noRoute.arrayBuffer();
  const routeRecord = await awaitRecord("GET", "(unmatched)", 404, beforeRoute);
  expect(routeRecord.properties.code).toBe("NOT_FOUND");
});

test("a refused token is logged under the route it asked for, with its code and no subject", async () => {
  const before = count("POST", "/v1/streams/:name/records", 401);
  const response = await fetch(`${gw.url}${streamPath}/records`, { method: "POST", headers: { authorization: "Bearer not-a-token", "content-type": "application/json" }, body: JSON.stringify({ records: [{ fields: { n: 1 } }] }) });
  expect(response.status).toBe(401);
  await response.arrayBuffer();
  const record = await awaitRecord("POST", "/v1/streams/:name/records", 401, before);
  expect(record.properties.code).toBe("UNAUTHENTICATED");
  expect(record.properties.subject).toBeUndefined();
});

test("every request gets exactly one line, and stdout has none", async () => {
  const healthz = await fetch(`${gw.url}/healthz`);
  expect(healthz.status).toBe(200);
  await healthz.arrayBuffer();
  const record = await awaitRecord("GET", "/healthz", 200, 0);
  expect(record.properties.subject).toBeUndefined();
  const perRoute = new Map<string, number>();
  for (const r of accessRecords(lines)) perRoute.set(`${r.properties.method} ${r.properties.route}`, (perRoute.get(`${r.properties.method} ${r.properties.route}`) ?? 0) + 1);
  expect(Object.fromEntries(perRoute)).toEqual({
    "POST /v1/tokens": 1,
    "POST /v1/streams": 1,
    "POST /v1/streams/:name/records": 2,
    "GET /v1/streams/:name/partitions/:partition/records": 1,
    "GET /v1/streams/:name": 1,
    "GET (unmatched)": 1,
    "GET /healthz": 1,
  });
  expect(lines.stdout().filter((line) => line.includes("strata.access") || line.includes("/healthz"))).toEqual([]);
});
