// The anomaly flags behind tokens (docs/anomalies.md, docs/auth.md), against a real `strata serve
// --auth` process: GET /v1/anomalies needs consume on `_strata/anomalies` (an admin token has it,
// a token for other streams gets 403); no token, not even an admin's, may publish to the stream or
// create a `_strata/` stream.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

setDefaultTimeout(60_000);

let gw: GatewayProcess;
let admin = "";
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
  const dataDir = tempDir("strata-anomalies-auth-");
  gw = await startGateway({ dataDir, args: ["--auth"] });
  admin = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
});

afterAll(async () => {
  await gw?.stop();
  if (gw) removeDir(gw.dataDir);
});

test("GET /v1/anomalies needs consume on _strata/anomalies", async () => {
  const reader = await issue([{ action: "consume", streams: "_strata/anomalies" }], "operator");
  const other = await issue([{ action: "consume", streams: "sensors/>" }], "sensors");
  for (const token of [admin, reader]) {
    const response = await call("GET", "/v1/anomalies?limit=10", token);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ anomalies: [], next: 0 });
    expect((await call("GET", "/v1/streams/_strata%2Fanomalies/partitions/0/records?offset=0", token)).status).toBe(200);
  }
  expect(await refusal(await call("GET", "/v1/anomalies", other))).toEqual([403, "FORBIDDEN"]);
  expect(await refusal(await fetch(`${gw.url}/v1/anomalies`))).toEqual([401, "UNAUTHENTICATED"]);
});

test("no token may write _strata/anomalies or create a _strata/ stream", async () => {
  const writer = await issue([{ action: "publish", streams: "_strata/>" }], "writer");
  for (const token of [admin, writer]) {
    expect(await refusal(await call("POST", "/v1/streams/_strata%2Fanomalies/records", token, { records: [{ fields: { kind: "forged" } }] }))).toEqual([403, "FORBIDDEN"]);
    expect(await refusal(await call("POST", "/v1/streams", token, { name: "_strata/mine" }))).toEqual([400, "INVALID_STREAM_NAME"]);
  }
  expect(await (await call("GET", "/v1/anomalies", admin)).json()).toEqual({ anomalies: [], next: 0 });
});
