// Scopes of the versions routes (docs/auth.md, docs/versions.md): listing and picking a version
// need consume on the stream; publish alone, another stream's consume or no token is refused.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";

const ADMIN = "versions-scopes-test-administrator-token-0123456789";
let gw: LiveGateway;
const tokens: Record<string, string> = {};

async function call(method: string, path: string, body: unknown, token?: string): Promise<{ status: number; body: { error?: { code: string } } & Record<string, unknown> }> {
  const response = await fetch(`${gw.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as { error?: { code: string } } & Record<string, unknown> };
}

async function issue(action: string, streams: string): Promise<string> {
  const answer = await call("POST", "/v1/tokens", { scopes: [{ action, streams }], ttl_s: 3600 }, ADMIN);
  expect(answer.status).toBe(201);
  return answer.body.token as string;
}

beforeAll(async () => {
  gw = await liveGateway({ auth: { enabled: true, adminToken: ADMIN } });
  tokens.reader = await issue("consume", "models/>");
  tokens.writer = await issue("publish", "models/>");
  tokens.other = await issue("consume", "sensors/>");
  expect((await call("POST", "/v1/streams", { name: "models/scoped", partitions: 1 }, ADMIN)).status).toBe(201);
  const manifest = "ab".repeat(32);
  const published = await call("POST", "/v1/streams/models%2Fscoped/records", { records: [{ fields: { artefact: { $artefact: { manifest, size: 1, mediaType: "application/octet-stream" } } } }] }, tokens.writer);
  expect(published.status).toBe(200);
});
afterAll(async () => {
  await gw?.close();
});

test("versions need consume on the stream", async () => {
  for (const path of ["/v1/streams/models%2Fscoped/versions", "/v1/streams/models%2Fscoped/versions/latest", "/v1/streams/models%2Fscoped/versions/abababab"]) {
    expect((await call("GET", path, undefined, tokens.reader)).status).toBe(200);
    for (const who of ["writer", "other"]) {
      const refused = await call("GET", path, undefined, tokens[who]);
      expect(refused.status).toBe(403);
      expect(refused.body.error?.code).toBe("FORBIDDEN");
    }
    expect((await call("GET", path, undefined)).status).toBe(401);
  }
});
