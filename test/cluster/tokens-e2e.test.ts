// Tokens across two real `strata serve --cluster --auth` gateways on one libSQL server: a token
// issued through gateway 1 is accepted by gateway 2 (its scope enforced there too), a token
// revoked through gateway 2 is refused by gateway 1, and no gateway wrote a signing key file
// (the key lives in the shared database).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { ADMIN_TOKEN_FILE, SIGNING_KEY_FILE } from "../../gateway/auth/gateway-auth.ts";
import { startTestCluster, waitUntil, type TestCluster } from "../helpers/cluster.ts";

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster({ gateways: 2, config: { auth: { enabled: true } } });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

const issued = z.object({ token: z.string(), id: z.string() });

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}`, "content-type": "application/json" };
}

test("a token issued on gateway 1 works on gateway 2; revoked on gateway 2, gateway 1 refuses it", async () => {
  const [one, two] = cluster.gateways;
  const admin = readFileSync(join(one!.spec.dataDir, ADMIN_TOKEN_FILE), "utf8").trim();
  for (const g of cluster.gateways) expect(existsSync(join(g.spec.dataDir, SIGNING_KEY_FILE))).toBe(false);

  // Gateway 1's administrator token is an administrator on gateway 2: it creates the stream there.
  const created = await fetch(`${two!.url}/v1/streams`, { method: "POST", headers: bearer(admin), body: JSON.stringify({ name: "tok/e2e", partitions: 2 }) });
  expect(created.status).toBe(201);

  const answer = await fetch(`${one!.url}/v1/tokens`, { method: "POST", headers: bearer(admin), body: JSON.stringify({ scopes: [{ action: "consume", streams: "tok/>" }], ttl_s: 3600 }) });
  expect(answer.status).toBe(201);
  const token = issued.parse(await answer.json());

  const describe = (via: string): Promise<Response> => fetch(`${via}/v1/streams/tok%2Fe2e`, { headers: bearer(token.token) });
  expect((await describe(two!.url)).status).toBe(200);
  expect((await describe(one!.url)).status).toBe(200);
  // Its scope holds on gateway 2 too: consume only, so no publish.
  const publish = await fetch(`${two!.url}/v1/streams/tok%2Fe2e/records`, { method: "POST", headers: bearer(token.token), body: JSON.stringify({ records: [{ fields: { a: 1 } }] }) });
  expect(publish.status).toBe(403);

  const revoked = await fetch(`${two!.url}/v1/tokens/${token.id}`, { method: "DELETE", headers: bearer(admin) });
  expect(revoked.status).toBe(200);
  expect((await describe(two!.url)).status).toBe(401);
  // Gateway 1 re-reads the revoked ids at most REVOCATION_REFRESH_MS after its last read.
  const refused = await waitUntil("gateway 1 refusing the revoked token", async () => {
    const r = await describe(one!.url);
    return r.status === 200 ? undefined : r;
  }, 10_000, 50);
  expect(refused.status).toBe(401);
  expect(await refused.text()).toContain("revoked");
}, 120_000);
