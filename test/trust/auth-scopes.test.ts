// Scope globs (NATS style: "*" one segment, ">" the rest), the scope parser, what scopes allow,
// and the token service on its own database: issue, verify, and a revocation made by another
// token service on the same database refused within REVOCATION_REFRESH_MS.
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { allows, formatScope, matchStreams, parseScope, type Scope } from "../../core/auth/scopes.ts";
import { StrataError } from "../../core/errors.ts";
import { loadOrCreateSigningKey } from "../../gateway/auth/signing-key.ts";
import { TokenService } from "../../gateway/auth/token-service.ts";
import { openDatabase, type Database } from "../../gateway/db/database.ts";
import { waitFor } from "../edge/edge-fixtures.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";

describe("matchStreams", () => {
  const cases: [string, string, boolean][] = [
    ["sensors", "sensors", true],
    ["sensors", "sensors/a", false],
    ["sensors/*", "sensors/a", true],
    ["sensors/*", "sensors/a/b", false],
    ["sensors/*", "sensors", false],
    ["sensors/>", "sensors/a", true],
    ["sensors/>", "sensors/a/b/c", true],
    ["sensors/>", "sensors", false],
    ["telemetry/*/raw", "telemetry/site-1/raw", true],
    ["telemetry/*/raw", "telemetry/site-1/cooked", false],
    ["*/raw", "a/raw", true],
    [">", "anything/at/all", true],
    [">", "x", true],
    ["*", "x", true],
    ["*", "x/y", false],
    ["sensors/>", "sensorsx/a", false],
  ];
  for (const [glob, stream, expected] of cases) {
    test(`${glob} ${expected ? "matches" : "does not match"} ${stream}`, () => expect(matchStreams(glob, stream)).toBe(expected));
  }
});

describe("parseScope", () => {
  test("reads ACTION:GLOB and writes it back", () => {
    const scope = parseScope("publish:sensors/>");
    expect(scope).toEqual({ action: "publish", streams: "sensors/>" });
    expect(formatScope(scope)).toBe("publish:sensors/>");
  });
  for (const bad of ["publish", "write:x", "publish:", "publish:a/>/b", "publish:a//b", "publish:a*", "consume:>x"]) {
    test(`refuses ${JSON.stringify(bad)}`, () => expect(() => parseScope(bad)).toThrow(StrataError));
  }
});

describe("allows", () => {
  const scopes: Scope[] = [
    { action: "publish", streams: "sensors/>" },
    { action: "consume", streams: "models/*" },
  ];
  test("an action on a stream its glob matches", () => {
    expect(allows(scopes, "publish", "sensors/a")).toBe(true);
    expect(allows(scopes, "publish", "models/a")).toBe(false);
    expect(allows(scopes, "consume", "models/a")).toBe(true);
    expect(allows(scopes, "consume", "sensors/a")).toBe(false);
  });
  test("without a stream: the action on some stream", () => {
    expect(allows(scopes, "publish")).toBe(true);
    expect(allows(scopes, "metrics")).toBe(false);
  });
  test("admin allows every action on the streams it matches", () => {
    const admin: Scope[] = [{ action: "admin", streams: "team/>" }];
    expect(allows(admin, "publish", "team/a")).toBe(true);
    expect(allows(admin, "consume", "team/a/b")).toBe(true);
    expect(allows(admin, "publish", "other/a")).toBe(false);
  });
});

describe("token service", () => {
  const dir = tempDir("strata-token-service-");
  const databases: Database[] = [];
  afterAll(() => {
    for (const d of databases) d.close();
    removeDir(dir);
  });

  async function open(): Promise<TokenService> {
    const database = await openDatabase(`file:${join(dir, "strata.db")}`);
    databases.push(database);
    return new TokenService(database.db, await loadOrCreateSigningKey(join(dir, "auth", "signing-key.jwk")));
  }

  async function code(work: Promise<unknown>): Promise<string> {
    try {
      await work;
      return "accepted";
    } catch (e) {
      if (e instanceof StrataError) return e.code;
      throw e;
    }
  }

  test("a token verifies to its subject and scopes; a revocation by another service on the database is seen", async () => {
    const a = await open();
    const b = await open();
    const issued = await a.issue({ scopes: [{ action: "consume", streams: "models/>" }], ttlS: 600, subject: "trainer" });
    expect(await b.verify(issued.token)).toEqual({ subject: "trainer", tokenId: issued.id, scopes: [{ action: "consume", streams: "models/>" }] });
    await a.revoke(issued.id);
    expect(await code(a.verify(issued.token))).toBe("UNAUTHENTICATED");
    await waitFor(async () => (await code(b.verify(issued.token))) === "UNAUTHENTICATED", 5_000, "the other service to see the revocation");
  });

  test("missing, malformed and tampered tokens are UNAUTHENTICATED", async () => {
    const service = await open();
    const issued = await service.issue({ scopes: [{ action: "publish", streams: ">" }], ttlS: 600 });
    const [header, payload, signature] = issued.token.split(".");
    const forgedPayload = Buffer.from(JSON.stringify({ sub: "x", jti: "y", exp: 9_999_999_999, scopes: [{ action: "admin", streams: ">" }] })).toString("base64url");
    for (const token of [undefined, "", "x", `${header}.${payload}`, `${header}.${forgedPayload}.${signature}`]) {
      expect(await code(service.verify(token))).toBe("UNAUTHENTICATED");
    }
    // Without a subject the token is its own subject.
    expect((await service.verify(issued.token)).subject).toBe(issued.id);
  });
});
