// The anomaly flags behind tokens (docs/anomalies.md, docs/auth.md), against a real `strata serve
// --auth` process: GET /v1/anomalies needs consume on `_strata/anomalies` (an admin token has it,
// a token for other streams gets 403); no token, not even an admin's, may publish to the stream or
// create a `_strata/` stream.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";
import { until } from "../queues/queue-http.ts";

setDefaultTimeout(60_000);

let gw: GatewayProcess;
let admin = "";
let dir = "";
/** Any processing time above this is flagged (anomalies.maxProcessingMs): one slow commit makes the stream. */
const MAX_PROCESSING_MS = 5;
const errorBody = z.object({ error: z.object({ code: z.string() }) });

async function call(method: string, path: string, token: string, body?: unknown): Promise<Response> {
  return fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function issue(scopes: { action: string; streams: string }[], subject: string): Promise<string> {
  const response = await call("POST", "/v1/tokens", admin, { scopes, ttl_s: 3600, subject });
  expect(response.status).toBe(201);
  return z.object({ token: z.string() }).parse(await response.json()).token;
}

async function refusal(response: Response): Promise<[number, string]> {
  return [response.status, errorBody.parse(await response.json()).error.code];
}

beforeAll(async () => {
  dir = tempDir("strata-anomalies-auth-");
  const dataDir = join(dir, "gw");
  const config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ anomalies: { maxProcessingMs: MAX_PROCESSING_MS } }));
  gw = await startGateway({ dataDir, args: ["--auth", "--config", config] });
  admin = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
});

afterAll(async () => {
  await gw?.stop();
  removeDir(dir);
});

test("GET /v1/anomalies needs consume on _strata/anomalies", async () => {
  const reader = await issue([{ action: "consume", streams: "_strata/anomalies" }], "operator");
  const other = await issue([{ action: "consume", streams: "sensors/>" }], "sensors");
  for (const token of [admin, reader]) {
    const response = await call("GET", "/v1/anomalies?limit=10", token);
    expect(response.status).toBe(200);
    // No flag yet: the stream is created before the first one (docs/anomalies.md), so it is empty.
    expect(await response.json()).toEqual({ anomalies: [], next: 0 });
  }
  expect(await refusal(await call("GET", "/v1/anomalies", other))).toEqual([403, "FORBIDDEN"]);
  expect(await refusal(await fetch(`${gw.url}/v1/anomalies`))).toEqual([401, "UNAUTHENTICATED"]);
});

test("no token may write _strata/anomalies or create a _strata/ stream", async () => {
  // One flag (a group's commit well after its read) makes the gateway create the stream.
  expect((await call("POST", "/v1/streams", admin, { name: "auth/s" })).status).toBe(201);
  expect((await call("POST", "/v1/streams/auth%2Fs/records", admin, { records: [{ fields: { n: 1 } }] })).status).toBe(200);
  expect((await call("GET", "/v1/streams/auth%2Fs/partitions/0/records?offset=0&group=g", admin)).status).toBe(200);
  await new Promise((resolve) => setTimeout(resolve, 10 * MAX_PROCESSING_MS)); // the slow processing itself
  expect((await call("POST", "/v1/groups/g/offsets", admin, { stream: "auth/s", offset: 1 })).status).toBe(200);
  const flagged = z.object({ anomalies: z.array(z.object({ kind: z.string() })), next: z.number() });
  const before = await until("the flag", async () => {
    const page = flagged.parse(await (await call("GET", "/v1/anomalies", admin)).json());
    return page.anomalies.length > 0 ? page : undefined;
  });
  expect(before.anomalies[0]!.kind).toBe("group_processing");
  const writer = await issue([{ action: "publish", streams: "_strata/>" }], "writer");
  for (const token of [admin, writer]) {
    expect(await refusal(await call("POST", "/v1/streams/_strata%2Fanomalies/records", token, { records: [{ fields: { kind: "forged" } }] }))).toEqual([403, "FORBIDDEN"]);
    expect(await refusal(await call("POST", "/v1/streams", token, { name: "_strata/mine" }))).toEqual([400, "INVALID_STREAM_NAME"]);
  }
  expect(flagged.parse(await (await call("GET", "/v1/anomalies", admin)).json())).toEqual(before);
});
