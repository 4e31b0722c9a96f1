// Tokens and scopes on every HTTP route, against a real `strata serve --auth` process: the matrix
// of no token, a malformed header, a bad signature, an expired token, a revoked one, a token out
// of scope by stream and by action, and an allowed one (admin among them) over every route
// family; lists filtered to what a token may see; token administration; the admin token file,
// STRATA_ADMIN_TOKEN, persistence across a restart; protected mode.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encode } from "@msgpack/msgpack";
import { generateKeyPair, importJWK, SignJWT } from "jose";
import { randomUUID } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

let gw: GatewayProcess;
const tokens: Record<string, string> = {};
const dirs: string[] = [];

const errorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
const issuedSchema = z.object({ token: z.string(), id: z.string(), expires_at: z.string() });
const listedSchema = z.object({
  tokens: z.array(z.strictObject({ id: z.string(), subject: z.string(), scopes: z.array(z.object({ action: z.string(), streams: z.string() })), issued_at: z.string(), expires_at: z.string(), revoked_at: z.string().nullable() })),
});

interface Call {
  readonly method: string;
  readonly path: string;
  readonly json?: unknown;
  readonly msgpack?: unknown;
}

async function call(c: Call, authorization?: string): Promise<Response> {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  let body: BodyInit | undefined;
  if (c.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(c.json);
  } else if (c.msgpack !== undefined) {
    headers["content-type"] = "application/msgpack";
    body = encode(c.msgpack);
  }
  return fetch(`${gw.url}${c.path}`, { method: c.method, headers, ...(body === undefined ? {} : { body }) });
}

const bearer = (token: string) => `Bearer ${token}`;

async function issue(scopes: string[], ttlS = 3600, subject?: string): Promise<z.infer<typeof issuedSchema>> {
  const body = { scopes: scopes.map((s) => ({ action: s.slice(0, s.indexOf(":")), streams: s.slice(s.indexOf(":") + 1) })), ttl_s: ttlS, ...(subject ? { subject } : {}) };
  const response = await call({ method: "POST", path: "/v1/tokens", json: body }, bearer(tokens.admin!));
  expect(response.status).toBe(201);
  return issuedSchema.parse(await response.json());
}

/** A token with the gateway's claims, signed by `key` (the gateway's own, or a stranger's). */
async function signed(key: CryptoKey | Uint8Array, claims: { exp: number; scopes: unknown }): Promise<string> {
  return new SignJWT({ scopes: claims.scopes }).setProtectedHeader({ alg: "EdDSA" }).setSubject("forger").setJti(randomUUID()).setExpirationTime(claims.exp).sign(key);
}

async function refusal(response: Response): Promise<[number, string]> {
  return [response.status, errorBody.parse(await response.json()).error.code];
}

const now = () => Math.floor(Date.now() / 1000);
const EVERYTHING = [{ action: "admin", streams: ">" }];
let created = 0;

/** Each route family, and the tokens whose scopes allow it (the rest must get 403). */
const ROUTES: { name: string; call: () => Call; allowed: string[] }[] = [
  { name: "create stream", call: () => ({ method: "POST", path: "/v1/streams", json: { name: `scoped/new-${created++}` } }), allowed: ["admin", "pub"] },
  { name: "describe stream", call: () => ({ method: "GET", path: "/v1/streams/scoped%2Fs" }), allowed: ["admin", "pub", "cons"] },
  { name: "publish", call: () => ({ method: "POST", path: "/v1/streams/scoped%2Fs/records", json: { records: [{ fields: { n: 1 } }] } }), allowed: ["admin", "pub"] },
  { name: "read", call: () => ({ method: "GET", path: "/v1/streams/scoped%2Fs/partitions/0/records?offset=0" }), allowed: ["admin", "cons"] },
  { name: "commit group offset", call: () => ({ method: "POST", path: "/v1/groups/g1/offsets", json: { stream: "scoped/s", offset: 0 } }), allowed: ["admin", "cons"] },
  { name: "read group offsets of a stream", call: () => ({ method: "GET", path: "/v1/groups/g1/offsets?stream=scoped%2Fs" }), allowed: ["admin", "cons"] },
  { name: "chunks missing", call: () => ({ method: "POST", path: "/v1/chunks/missing", json: { hashes: ["00".repeat(32)] } }), allowed: ["admin", "pub", "other"] },
  { name: "chunks upload", call: () => ({ method: "PUT", path: "/v1/chunks", msgpack: { chunks: [] } }), allowed: ["admin", "pub", "other"] },
  { name: "chunks get", call: () => ({ method: "POST", path: "/v1/chunks/get", json: { hashes: [] } }), allowed: ["admin", "cons", "other"] },
  { name: "manifest upload", call: () => ({ method: "PUT", path: `/v1/manifests/${"ab".repeat(32)}`, msgpack: { v: 1 } }), allowed: ["admin", "pub", "other"] },
  { name: "manifest get", call: () => ({ method: "GET", path: `/v1/manifests/${"ab".repeat(32)}` }), allowed: ["admin", "cons", "other"] },
  { name: "artefact get", call: () => ({ method: "GET", path: `/v1/artefacts/${"ab".repeat(32)}` }), allowed: ["admin", "cons", "other"] },
  { name: "admin gc", call: () => ({ method: "POST", path: "/v1/admin/gc" }), allowed: ["admin"] },
  { name: "metrics", call: () => ({ method: "GET", path: "/metrics" }), allowed: ["admin", "metrics"] },
  { name: "list tokens", call: () => ({ method: "GET", path: "/v1/tokens" }), allowed: ["admin"] },
  { name: "issue token", call: () => ({ method: "POST", path: "/v1/tokens", json: { scopes: [{ action: "consume", streams: "x" }], ttl_s: 60 } }), allowed: ["admin"] },
  { name: "revoke token", call: () => ({ method: "DELETE", path: `/v1/tokens/${randomUUID()}` }), allowed: ["admin"] },
];
const GRANTED = ["admin", "pub", "cons", "other", "metrics"];

beforeAll(async () => {
  const dataDir = tempDir("strata-auth-http-");
  dirs.push(dataDir);
  gw = await startGateway({ dataDir, args: ["--auth"] });
  tokens.admin = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
  tokens.pub = (await issue(["publish:scoped/>"], 3600, "publisher")).token;
  tokens.cons = (await issue(["consume:scoped/>"], 3600, "consumer")).token;
  tokens.other = (await issue(["publish:elsewhere/>", "consume:elsewhere/>"], 3600, "other")).token;
  tokens.metrics = (await issue(["metrics:>"], 3600, "scraper")).token;
  tokens.revoked = (await issue(["admin:>"], 3600, "revoked")).token;
  const revokedId = (await issue(["admin:>"], 3600, "revoked-2")).id;
  for (const name of ["scoped/s", "elsewhere/x"]) {
    expect((await call({ method: "POST", path: "/v1/streams", json: { name } }, bearer(tokens.admin))).status).toBe(201);
  }
  // Revoked and expired tokens carry full scopes, so only authentication can refuse them.
  const listed = listedSchema.parse(await (await call({ method: "GET", path: "/v1/tokens" }, bearer(tokens.admin))).json());
  const revokedToken = listed.tokens.find((t) => t.subject === "revoked");
  expect((await call({ method: "DELETE", path: `/v1/tokens/${revokedToken!.id}` }, bearer(tokens.admin))).status).toBe(200);
  expect((await call({ method: "DELETE", path: `/v1/tokens/${revokedId}` }, bearer(tokens.admin))).status).toBe(200);
  const jwk = z.object({ kty: z.string(), crv: z.string(), x: z.string(), d: z.string() }).parse(JSON.parse(readFileSync(join(dataDir, "auth", "signing-key.jwk"), "utf8")));
  const gatewayKey = await importJWK(jwk, "EdDSA");
  tokens.expired = await signed(gatewayKey, { exp: now() - 3600, scopes: EVERYTHING });
  const stranger = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  tokens.badSignature = await signed(stranger.privateKey, { exp: now() + 3600, scopes: EVERYTHING });
});

afterAll(async () => {
  await gw?.stop();
  for (const d of dirs) removeDir(d);
});

describe("every route family", () => {
  for (const route of ROUTES) {
    test(`${route.name}: 401 without a valid token`, async () => {
      const refusedAuth: [string, string | undefined][] = [
        ["no token", undefined],
        ["not a bearer header", "Basic YWRtaW46YWRtaW4="],
        ["malformed token", bearer("not.a.jwt")],
        ["bad signature", bearer(tokens.badSignature!)],
        ["expired", bearer(tokens.expired!)],
        ["revoked", bearer(tokens.revoked!)],
      ];
      for (const [what, authorization] of refusedAuth) {
        const response = await call(route.call(), authorization);
        expect({ what, answer: await refusal(response) }).toEqual({ what, answer: [401, "UNAUTHENTICATED"] });
        expect(response.headers.get("www-authenticate")).toStartWith("Bearer");
      }
    });

    test(`${route.name}: allowed for ${route.allowed.join(", ")}; 403 for the others`, async () => {
      for (const who of GRANTED) {
        const response = await call(route.call(), bearer(tokens[who]!));
        if (route.allowed.includes(who)) {
          // Past authorisation the route answers for itself (a 404 for an unknown manifest is fine), never 401/403 nor 5xx.
          expect({ who, authorised: response.status !== 401 && response.status !== 403, below500: response.status < 500 }).toEqual({ who, authorised: true, below500: true });
          await response.arrayBuffer();
        } else {
          expect({ who, answer: await refusal(response) }).toEqual({ who, answer: [403, "FORBIDDEN"] });
        }
      }
    });
  }

  test("the allowed calls did their work", async () => {
    const read = await call({ method: "GET", path: "/v1/streams/scoped%2Fs/partitions/0/records?offset=0" }, bearer(tokens.cons!));
    const records = z.object({ records: z.array(z.unknown()) }).parse(await read.json()).records;
    expect(records.length).toBe(2); // published by admin and pub
  });

  test("/healthz stays open", async () => {
    const response = await fetch(`${gw.url}/healthz`);
    expect(response.status).toBe(200);
  });
});

describe("what a token may see", () => {
  test("the stream list holds only streams the token may publish to or consume", async () => {
    const names = async (who: string) =>
      z
        .object({ streams: z.array(z.object({ name: z.string() })) })
        .parse(await (await call({ method: "GET", path: "/v1/streams" }, bearer(tokens[who]!))).json())
        .streams.map((s) => s.name);
    expect(await names("admin")).toContain("elsewhere/x");
    expect(await names("admin")).toContain("scoped/s");
    expect(await names("cons")).toContain("scoped/s");
    expect(await names("cons")).not.toContain("elsewhere/x");
    expect(await names("other")).toEqual(["elsewhere/x"]);
    expect(await names("metrics")).toEqual([]);
  });

  test("a group's offsets are listed only for streams the token may consume", async () => {
    for (const stream of ["scoped/s", "elsewhere/x"]) {
      expect((await call({ method: "POST", path: "/v1/groups/shared/offsets", json: { stream, offset: 0 } }, bearer(tokens.admin!))).status).toBe(200);
    }
    const offsets = async (who: string) =>
      z
        .object({ offsets: z.array(z.object({ stream: z.string() })) })
        .parse(await (await call({ method: "GET", path: "/v1/groups/shared/offsets" }, bearer(tokens[who]!))).json())
        .offsets.map((o) => o.stream);
    expect(await offsets("admin")).toEqual(["elsewhere/x", "scoped/s"]);
    expect(await offsets("cons")).toEqual(["scoped/s"]);
    expect(await offsets("other")).toEqual(["elsewhere/x"]);
  });

  test("a stream out of scope is refused whether or not it exists (no existence oracle)", async () => {
    const missing = await call({ method: "GET", path: "/v1/streams/elsewhere%2Fnot-there" }, bearer(tokens.cons!));
    const present = await call({ method: "GET", path: "/v1/streams/elsewhere%2Fx" }, bearer(tokens.cons!));
    expect(await refusal(missing)).toEqual([403, "FORBIDDEN"]);
    expect(await refusal(present)).toEqual([403, "FORBIDDEN"]);
  });
});

describe("producer ids belong to the subject that registered them", () => {
  test("another subject can neither publish with a registered id nor fence it over HTTP", async () => {
    const owner = (await issue(["publish:scoped/>"], 600, "producer-owner")).token;
    const intruder = (await issue(["publish:scoped/>"], 600, "producer-intruder")).token;
    const producerId = 2 ** 40 + 7;
    const publish = (token: string, epoch: number, seq: number) =>
      call({ method: "POST", path: "/v1/streams/scoped%2Fs/records", json: { records: [{ fields: { n: seq } }], producer: { id: producerId, epoch, seq } } }, bearer(token));
    expect((await publish(owner, 0, 0)).status).toBe(200);
    expect(await refusal(await publish(intruder, 0, 1))).toEqual([403, "FORBIDDEN"]);
    expect(await refusal(await publish(intruder, 65535, 0))).toEqual([403, "FORBIDDEN"]);
    expect((await publish(owner, 0, 1)).status).toBe(200);
  });
});

describe("token administration", () => {
  test("issue, list without secrets, revoke: refused from the next request", async () => {
    const issued = await issue(["consume:scoped/>"], 600, "short-lived");
    expect(Date.parse(issued.expires_at) - Date.now()).toBeGreaterThan(500_000);
    const read = { method: "GET", path: "/v1/streams/scoped%2Fs" };
    expect((await call(read, bearer(issued.token))).status).toBe(200);
    const listedText = await (await call({ method: "GET", path: "/v1/tokens" }, bearer(tokens.admin!))).text();
    expect(listedText).not.toContain(issued.token.split(".")[2]!);
    const listed = listedSchema.parse(JSON.parse(listedText)).tokens.find((t) => t.id === issued.id);
    expect(listed).toMatchObject({ subject: "short-lived", scopes: [{ action: "consume", streams: "scoped/>" }], revoked_at: null });
    const revoked = await call({ method: "DELETE", path: `/v1/tokens/${issued.id}` }, bearer(tokens.admin!));
    expect(revoked.status).toBe(200);
    expect(z.object({ revoked_at: z.string() }).parse(await revoked.json()).revoked_at).toBeString();
    expect(await refusal(await call(read, bearer(issued.token)))).toEqual([401, "UNAUTHENTICATED"]);
  });

  test("an unknown token id is 404; bad scopes, globs and lifetimes are 400", async () => {
    expect(await refusal(await call({ method: "DELETE", path: `/v1/tokens/${randomUUID()}` }, bearer(tokens.admin!)))).toEqual([404, "NOT_FOUND"]);
    const bad = [
      { scopes: [{ action: "delete", streams: ">" }], ttl_s: 60 },
      { scopes: [{ action: "publish", streams: "a/>/b" }], ttl_s: 60 },
      { scopes: [{ action: "publish", streams: "a//b" }], ttl_s: 60 },
      { scopes: [{ action: "publish", streams: "a*" }], ttl_s: 60 },
      { scopes: [], ttl_s: 60 },
      { scopes: [{ action: "publish", streams: ">" }], ttl_s: 0 },
      { scopes: [{ action: "publish", streams: ">" }], ttl_s: 1e12 },
      { scopes: [{ action: "publish", streams: ">" }], ttl_s: 60, subject: "has space" },
    ];
    for (const body of bad) {
      expect({ body, answer: await refusal(await call({ method: "POST", path: "/v1/tokens", json: body }, bearer(tokens.admin!))) }).toEqual({ body, answer: [400, "BAD_REQUEST"] });
    }
  });

  test("an administrator of some streams only (admin:scoped/>) administers those streams, not the gateway", async () => {
    const teamAdmin = (await issue(["admin:scoped/>"], 600, "team-lead")).token;
    expect((await call({ method: "POST", path: "/v1/streams", json: { name: "scoped/team" } }, bearer(teamAdmin))).status).toBe(201);
    expect(await refusal(await call({ method: "POST", path: "/v1/streams", json: { name: "elsewhere/team" } }, bearer(teamAdmin)))).toEqual([403, "FORBIDDEN"]);
    expect(await refusal(await call({ method: "GET", path: "/v1/tokens" }, bearer(teamAdmin)))).toEqual([403, "FORBIDDEN"]);
    expect(await refusal(await call({ method: "POST", path: "/v1/admin/gc" }, bearer(teamAdmin)))).toEqual([403, "FORBIDDEN"]);
    expect(await refusal(await call({ method: "GET", path: "/metrics" }, bearer(teamAdmin)))).toEqual([403, "FORBIDDEN"]);
  });

  test("the admin token file is private (0600) and, with the key and the revocations, survives a restart", async () => {
    expect(statSync(join(gw.dataDir, "admin.token")).mode & 0o777).toBe(0o600);
    expect(statSync(join(gw.dataDir, "auth", "signing-key.jwk")).mode & 0o777).toBe(0o600);
    await gw.stop();
    gw = await startGateway({ dataDir: gw.dataDir, args: ["--auth"] });
    expect(readFileSync(join(gw.dataDir, "admin.token"), "utf8").trim()).toBe(tokens.admin!);
    expect((await call({ method: "GET", path: "/v1/tokens" }, bearer(tokens.admin!))).status).toBe(200);
    expect((await call({ method: "GET", path: "/v1/streams/scoped%2Fs" }, bearer(tokens.pub!))).status).toBe(200);
    expect(await refusal(await call({ method: "GET", path: "/v1/streams/scoped%2Fs" }, bearer(tokens.revoked!)))).toEqual([401, "UNAUTHENTICATED"]);
  });
});

describe("starting with authentication", () => {
  test("STRATA_ADMIN_TOKEN is the administrator secret, and no admin.token is written", async () => {
    const dataDir = tempDir("strata-auth-env-");
    dirs.push(dataDir);
    const secret = `s3cret-${randomUUID()}`;
    const other = await startGateway({ dataDir, args: ["--auth"], env: { STRATA_ADMIN_TOKEN: secret } });
    try {
      expect(() => statSync(join(dataDir, "admin.token"))).toThrow();
      const list = await fetch(`${other.url}/v1/tokens`, { headers: { authorization: bearer(secret) } });
      expect(list.status).toBe(200);
      const wrong = await fetch(`${other.url}/v1/tokens`, { headers: { authorization: bearer(`${secret}x`) } });
      expect(wrong.status).toBe(401);
    } finally {
      await other.stop();
    }
  });

  test("protected mode: a non-loopback --host without --auth exits 1 saying why; --insecure serves it", async () => {
    const dataDir = tempDir("strata-auth-host-");
    dirs.push(dataDir);
    const refused = await startGateway({ dataDir, args: ["--host", "0.0.0.0"] }).then(
      () => "started",
      (e: unknown) => String(e),
    );
    expect(refused).toContain("exited with 1");
    expect(refused).toContain("refusing to serve 0.0.0.0 without authentication");
    const open = await startGateway({ dataDir, args: ["--host", "0.0.0.0", "--insecure"] });
    await open.stop();
    const authed = await startGateway({ dataDir, args: ["--host", "0.0.0.0", "--auth"] });
    await authed.stop();
  });

  test("under Deno the same: 401 without a token, the admin token from the file works", async () => {
    const dataDir = tempDir("strata-auth-deno-");
    dirs.push(dataDir);
    const deno = await startGateway({ runtime: "deno", dataDir, args: ["--auth"] });
    try {
      const admin = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
      expect(await refusal(await fetch(`${deno.url}/v1/streams`))).toEqual([401, "UNAUTHENTICATED"]);
      expect((await fetch(`${deno.url}/v1/streams`, { headers: { authorization: bearer(admin) } })).status).toBe(200);
    } finally {
      await deno.stop();
    }
  });

  test("without --auth every route stays open, as before (tokens answer 404)", async () => {
    const dataDir = tempDir("strata-auth-off-");
    dirs.push(dataDir);
    const open = await startGateway({ dataDir });
    try {
      expect((await fetch(`${open.url}/v1/streams`)).status).toBe(200);
      expect((await fetch(`${open.url}/metrics`)).status).toBe(200);
      expect((await fetch(`${open.url}/v1/tokens`)).status).toBe(404);
    } finally {
      await open.stop();
    }
  });
});
