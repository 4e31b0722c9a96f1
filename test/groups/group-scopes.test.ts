// Scopes of the group routes against a real `strata serve --auth` process (docs/groups.md): a
// heartbeat needs consume on every stream it subscribes to, a commit consume on its stream, a
// member's leave consume on the member's streams; listings show only what the token may consume.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { groupDescriptionSchema, groupListSchema, heartbeatResponseSchema } from "../../gateway/consumers/group-wire.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

let gw: GatewayProcess;
let dir: string;
const tokens: Record<string, string> = {};

/** One call as `token`; the answer's body through `schema` when the call succeeded (else left unread). */
async function call<S extends z.ZodType>(method: string, path: string, token: string | undefined, body?: unknown, schema?: S): Promise<{ status: number; body: z.output<S> | undefined }> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${gw.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json: unknown = await response.json();
  return { status: response.status, body: response.ok && schema !== undefined ? schema.parse(json) : undefined };
}

async function issue(scope: string, subject: string): Promise<string> {
  const [action, streams] = [scope.slice(0, scope.indexOf(":")), scope.slice(scope.indexOf(":") + 1)];
  const issued = await call("POST", "/v1/tokens", tokens.admin, { scopes: [{ action, streams }], ttl_s: 3600, subject }, z.object({ token: z.string() }));
  expect(issued.status).toBe(201);
  return issued.body!.token;
}

beforeAll(async () => {
  dir = tempDir("strata-group-scopes-");
  gw = await startGateway({ dataDir: dir, args: ["--auth"] });
  tokens.admin = readFileSync(join(dir, "admin.token"), "utf8").trim();
  tokens.cons = await issue("consume:scoped/>", "consumer");
  tokens.other = await issue("consume:elsewhere/>", "other");
  tokens.pub = await issue("publish:scoped/>", "publisher");
  for (const name of ["scoped/s", "elsewhere/x"]) expect((await call("POST", "/v1/streams", tokens.admin, { name, partitions: 2 })).status).toBe(201);
});

afterAll(async () => {
  await gw?.stop();
  removeDir(dir);
});

describe("group routes under --auth", () => {
  let epoch = 0;

  test("heartbeat: consume on every subscribed stream", async () => {
    expect((await call("POST", "/v1/groups/g/heartbeat", undefined, { member: "c", streams: ["scoped/s"] })).status).toBe(401);
    expect((await call("POST", "/v1/groups/g/heartbeat", tokens.pub, { member: "c", streams: ["scoped/s"] })).status).toBe(403);
    expect((await call("POST", "/v1/groups/g/heartbeat", tokens.cons, { member: "c", streams: ["scoped/s", "elsewhere/x"] })).status).toBe(403);
    const joined = await call("POST", "/v1/groups/g/heartbeat", tokens.cons, { member: "c", streams: ["scoped/s"] }, heartbeatResponseSchema);
    expect(joined.status).toBe(200);
    epoch = joined.body!.member_epoch;
    expect(joined.body!.assignment).toHaveLength(2);
  });

  test("commit: consume on the stream", async () => {
    const body = { stream: "scoped/s", partition: 0, offset: 0, member: "c", member_epoch: epoch };
    expect((await call("POST", "/v1/groups/g/offsets", tokens.other, body)).status).toBe(403);
    expect((await call("POST", "/v1/groups/g/offsets", tokens.cons, body)).status).toBe(200);
  });

  test("listings show only groups and partitions the token may consume", async () => {
    const mine = await call("GET", "/v1/groups", tokens.cons, undefined, groupListSchema);
    expect(mine.body!.groups.map((g) => g.group)).toEqual(["g"]);
    expect((await call("GET", "/v1/groups", tokens.other, undefined, groupListSchema)).body!.groups).toEqual([]);
    const described = await call("GET", "/v1/groups/g", tokens.cons, undefined, groupDescriptionSchema);
    expect(described.status).toBe(200);
    expect(described.body!.partitions.map((p) => p.partition)).toEqual([0, 1]);
    expect((await call("GET", "/v1/groups/g", tokens.other)).status).toBe(403);
  });

  test("leave: consume on the member's streams", async () => {
    expect((await call("DELETE", "/v1/groups/g/members/c", tokens.other)).status).toBe(403);
    expect((await call("DELETE", "/v1/groups/g/members/c", tokens.cons)).status).toBe(200);
  });

  test("leave of a member the group does not have: 403 to a token that may not consume the group's streams, so the 404 is no oracle", async () => {
    expect((await call("POST", "/v1/groups/g/heartbeat", tokens.cons, { member: "d", streams: ["scoped/s"] })).status).toBe(200);
    expect((await call("DELETE", "/v1/groups/g/members/ghost", tokens.other)).status).toBe(403);
    expect((await call("DELETE", "/v1/groups/g/members/ghost", tokens.cons)).status).toBe(404);
  });
});
