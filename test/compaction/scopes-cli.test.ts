// Scopes of the compaction routes (docs/auth.md): `latest` needs consume on the stream; the
// on-demand compaction needs admin on the stream it names. And `strata streams create --cleanup
// compact` against a gateway process.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { ROOT, startGateway } from "../helpers/gateway.ts";

const ADMIN = "compaction-scopes-admin-token-0123456789abcdef";
let live: LiveGateway;
const tokens: Record<string, string> = {};

async function call(method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${live.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: response.status, body: await response.json() };
}

async function issue(scopes: string[]): Promise<string> {
  const body = { scopes: scopes.map((s) => ({ action: s.slice(0, s.indexOf(":")), streams: s.slice(s.indexOf(":") + 1) })), ttl_s: 3600 };
  const issued = await call("POST", "/v1/tokens", ADMIN, body);
  expect(issued.status).toBe(201);
  return issued.body.token;
}

beforeAll(async () => {
  live = await liveGateway({ auth: { enabled: true, adminToken: ADMIN } });
  tokens.publish = await issue(["publish:params/>"]);
  tokens.consume = await issue(["consume:params/>"]);
  tokens.other = await issue(["consume:other/>", "admin:other/>"]);
  tokens.admin = await issue(["admin:params/>"]);
  expect((await call("POST", "/v1/streams", tokens.publish, { name: "params/lr", cleanup: "compact" })).status).toBe(201);
  expect((await call("POST", "/v1/streams/params%2Flr/records", tokens.publish, { records: [{ key: "lr", fields: { value: 0.1 } }] })).status).toBe(200);
});
afterAll(() => live.close());

describe("scopes", () => {
  test("latest: 401 without a token, 403 with publish only or another stream's scope, 200 with consume", async () => {
    expect((await call("GET", "/v1/streams/params%2Flr/latest", undefined)).status).toBe(401);
    for (const token of [tokens.publish, tokens.other]) {
      const refused = await call("GET", "/v1/streams/params%2Flr/latest", token);
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe("FORBIDDEN");
    }
    const allowed = await call("GET", "/v1/streams/params%2Flr/latest", tokens.consume);
    expect(allowed.status).toBe(200);
    expect(allowed.body.records).toHaveLength(1);
  });

  test("compact: admin on the named stream only", async () => {
    expect((await call("POST", "/v1/admin/compact", undefined, { stream: "params/lr" })).status).toBe(401);
    for (const token of [tokens.publish, tokens.consume, tokens.other]) expect((await call("POST", "/v1/admin/compact", token, { stream: "params/lr" })).status).toBe(403);
    const done = await call("POST", "/v1/admin/compact", tokens.admin, { stream: "params/lr" });
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ stream: "params/lr", segments_rewritten: 0, records_removed: 0 });
  });
});

test("strata streams create --cleanup compact --tombstone-ms; a bad --cleanup is a usage error", async () => {
  const gateway = await startGateway();
  try {
    const strata = (args: string[]) => spawnSync(process.execPath, [join(ROOT, "cli/main.ts"), ...args, "--gateway", gateway.url], { encoding: "utf8" });
    const created = strata(["streams", "create", "live/params", "--cleanup", "compact", "--tombstone-ms", "60000"]);
    expect(created.status).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: "live/params", cleanup: "compact", tombstone_ms: 60000 });
    const bad = strata(["streams", "create", "live/other", "--cleanup", "sometimes"]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain("--cleanup must be delete or compact");
  } finally {
    await gateway.stop();
  }
}, 60_000);
