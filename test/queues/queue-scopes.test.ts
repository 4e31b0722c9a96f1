// Scopes of the queue routes against a real `strata serve --auth` process (docs/queues.md): a
// claim needs consume on every stream it lists, an ack or nack consume on each receipt's stream,
// configuration needs admin, and the dead letter is published by the gateway even when the
// worker may not publish anywhere.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ClaimResponse, QueueDescription, QueueList } from "../../gateway/queues/queue-wire.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

let gw: GatewayProcess;
let dir: string;
const tokens: Record<string, string> = {};

async function call<T>(method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${gw.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as T };
}

async function issue(scope: string, subject: string): Promise<string> {
  const [action, streams] = [scope.slice(0, scope.indexOf(":")), scope.slice(scope.indexOf(":") + 1)];
  const issued = await call<{ token: string }>("POST", "/v1/tokens", tokens.admin, { scopes: [{ action, streams }], ttl_s: 3600, subject });
  expect(issued.status).toBe(201);
  return issued.body.token;
}

beforeAll(async () => {
  dir = tempDir("strata-queue-scopes-");
  gw = await startGateway({ dataDir: dir, args: ["--auth"] });
  tokens.admin = readFileSync(join(dir, "admin.token"), "utf8").trim();
  tokens.worker = await issue("consume:tasks/>", "worker");
  tokens.other = await issue("consume:elsewhere/>", "other");
  for (const name of ["tasks/a", "elsewhere/x"]) expect((await call("POST", "/v1/streams", tokens.admin, { name, partitions: 1 })).status).toBe(201);
  expect((await call("POST", "/v1/streams/tasks%2Fa/records", tokens.admin, { records: [{ fields: { n: 1 } }, { fields: { n: 2 } }] })).status).toBe(200);
});

afterAll(async () => {
  await gw?.stop();
  removeDir(dir);
});

describe("queue routes under --auth", () => {
  test("configure: admin", async () => {
    const config = { max_deliveries: 1, backoff: { initial_ms: 0, max_ms: 0, multiplier: 1, jitter: "none" } };
    expect((await call("PUT", "/v1/queues/q", undefined, config)).status).toBe(401);
    expect((await call("PUT", "/v1/queues/q", tokens.worker, config)).status).toBe(403);
    expect((await call("PUT", "/v1/queues/q", tokens.admin, config)).status).toBe(200);
  });

  test("claim: consume on every listed stream; ack and nack: consume on each receipt's stream", async () => {
    expect((await call("POST", "/v1/queues/q/claim", tokens.other, { streams: ["tasks/a"] })).status).toBe(403);
    expect((await call("POST", "/v1/queues/q/claim", tokens.worker, { streams: ["tasks/a", "elsewhere/x"] })).status).toBe(403);
    const claimed = await call<ClaimResponse>("POST", "/v1/queues/q/claim", tokens.worker, { streams: ["tasks/a"], max_records: 2 });
    expect(claimed.status).toBe(200);
    const [first, second] = claimed.body.records;
    expect((await call("POST", "/v1/queues/q/ack", tokens.other, { receipts: [first!.receipt] })).status).toBe(403);
    expect((await call("POST", "/v1/queues/q/ack", tokens.worker, { receipts: [first!.receipt] })).body).toEqual({ acked: 1, stale: [] });
    // max_deliveries 1: the nack dead-letters, published by the gateway although the worker may not publish.
    expect((await call("POST", "/v1/queues/q/nack", tokens.other, { receipts: [second!.receipt] })).status).toBe(403);
    expect((await call("POST", "/v1/queues/q/nack", tokens.worker, { receipts: [second!.receipt], error: "boom" })).body).toEqual({ nacked: 1, dead_lettered: 1, stale: [] });
    const dlq = await call<{ records: { headers: Record<string, string> }[] }>("GET", "/v1/streams/tasks%2Fa.dlq/partitions/0/records", tokens.worker);
    expect(dlq.status).toBe(200);
    expect(dlq.body.records.map((r) => r.headers["strata-dlq-error"])).toEqual(["boom"]);
  });

  test("describe and list: only to who may consume the queue's streams", async () => {
    expect((await call("GET", "/v1/queues/q", tokens.other)).status).toBe(403);
    const described = await call<QueueDescription>("GET", "/v1/queues/q", tokens.worker);
    expect(described.status).toBe(200);
    expect(described.body.totals).toMatchObject({ acked: 1, dead_lettered: 1 });
    expect((await call<QueueList>("GET", "/v1/queues", tokens.other)).body.queues).toEqual([]);
    expect((await call<QueueList>("GET", "/v1/queues", tokens.worker)).body.queues).toEqual([{ group: "q", streams: ["tasks/a"] }]);
  });
});
