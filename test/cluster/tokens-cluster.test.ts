// Tokens across the gateways of a cluster, on a real libSQL server (sqld): one signing key for
// all, kept in cluster_secrets and agreed on by gateways starting at once; a token (the
// administrator's too) issued by one gateway verifies on every other; a revocation made on one
// is refused by the others once their revocation set is REVOCATION_REFRESH_MS old at most; the
// metadata database away is 503 METADATA_UNAVAILABLE, and verification recovers when it is back.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isStrataError } from "../../core/errors.ts";
import { ADMIN_TOKEN_FILE, openAuth, SIGNING_KEY_FILE, type GatewayAuth } from "../../gateway/auth/gateway-auth.ts";
import { REVOCATION_REFRESH_MS, type TokenService } from "../../gateway/auth/token-service.ts";
import { openDatabase, type Database } from "../../gateway/db/database.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { startSqld, type SqldServer } from "../helpers/sqld.ts";

let sqld: SqldServer;
const databases: Database[] = [];
const dirs: string[] = [];

interface AuthGateway {
  readonly dir: string;
  readonly auth: GatewayAuth;
  readonly tokens: TokenService;
}

const gateways: AuthGateway[] = [];

beforeAll(async () => {
  sqld = await startSqld();
  // Migrations first, once; then three gateways open their auth at the same time (the race for the key).
  databases.push(await openDatabase(sqld.url));
  for (let i = 1; i < 3; i++) databases.push(await openDatabase(sqld.url));
  const opened = await Promise.all(
    databases.map(async (database) => {
      const dir = tempDir();
      dirs.push(dir);
      const auth = await openAuth({ enabled: true, dataDir: dir, db: database.db, adminToken: undefined, sharedKey: true });
      if (auth.kind !== "tokens") throw new Error("auth is enabled");
      return { dir, auth, tokens: auth.tokens };
    }),
  );
  gateways.push(...opened);
}, 60_000);

afterAll(async () => {
  databases.forEach((d) => d.close());
  await sqld?.stop();
  dirs.forEach(removeDir);
});

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isStrataError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  return "accepted";
}

test("gateways starting at once agree on one signing key in the shared database: a token from any of them verifies on all", async () => {
  for (const issuer of gateways) {
    const issued = await issuer.tokens.issue({ scopes: [{ action: "publish", streams: "sensors/>" }], ttlS: 3600, subject: "device-1" });
    for (const verifier of gateways) {
      const principal = await verifier.auth.verify(issued.token);
      expect(principal.subject).toBe("device-1");
      expect(principal.tokenId).toBe(issued.id);
    }
  }
  // Each gateway's administrator token (written at its first start) works on the others, and no
  // key file was written beside it: the key lives only in the database.
  for (const g of gateways) {
    expect(existsSync(join(g.dir, SIGNING_KEY_FILE))).toBe(false);
    const admin = readFileSync(join(g.dir, ADMIN_TOKEN_FILE), "utf8").trim();
    for (const verifier of gateways) expect((await verifier.auth.verify(admin)).subject).toBe("admin");
  }
});

test("a gateway started later, and one restarted, use the same key", async () => {
  const database = await openDatabase(sqld.url);
  databases.push(database);
  const dir = tempDir();
  dirs.push(dir);
  const late = await openAuth({ enabled: true, dataDir: dir, db: database.db, adminToken: undefined, sharedKey: true });
  const issued = await gateways[0]!.tokens.issue({ scopes: [{ action: "consume", streams: ">" }], ttlS: 600 });
  expect((await late.verify(issued.token)).tokenId).toBe(issued.id);
  const again = await openAuth({ enabled: true, dataDir: gateways[1]!.dir, db: database.db, adminToken: undefined, sharedKey: true });
  expect((await again.verify(issued.token)).tokenId).toBe(issued.id);
});

test("a token revoked on gateway 2 is refused on gateway 1 once its revocation set is REVOCATION_REFRESH_MS old", async () => {
  const [one, two] = gateways;
  const issued = await one!.tokens.issue({ scopes: [{ action: "consume", streams: "models/>" }], ttlS: 3600 });
  // Gateway 1 verifies it (and loads its revocation set) before the revocation.
  expect((await one!.auth.verify(issued.token)).tokenId).toBe(issued.id);
  await two!.tokens.revoke(issued.id);
  const revokedAt = Date.now();
  expect(await refusal(two!.auth.verify(issued.token))).toBe("UNAUTHENTICATED: the token has been revoked");
  // The documented bound: any set gateway 1 checks against now was loaded after the revocation.
  while (Date.now() - revokedAt <= REVOCATION_REFRESH_MS) await Bun.sleep(50);
  expect(await refusal(one!.auth.verify(issued.token))).toBe("UNAUTHENTICATED: the token has been revoked");
  expect(await refusal(gateways[2]!.auth.verify(issued.token))).toBe("UNAUTHENTICATED: the token has been revoked");
  expect((await one!.tokens.list()).find((t) => t.id === issued.id)?.revoked_at).not.toBeNull();
});

test("with the metadata database away, verification is 503 METADATA_UNAVAILABLE (never a stale pass, never a 500), and recovers when it is back", async () => {
  const [one] = gateways;
  const issued = await one!.tokens.issue({ scopes: [{ action: "publish", streams: ">" }], ttlS: 600 });
  await sqld.kill();
  try {
    // Once the cached revocation set is too old to trust, the database must answer.
    const down = Date.now();
    while (Date.now() - down <= REVOCATION_REFRESH_MS) await Bun.sleep(50);
    let error: unknown;
    try {
      await one!.auth.verify(issued.token);
    } catch (e) {
      error = e;
    }
    expect(isStrataError(error) && error.code).toBe("METADATA_UNAVAILABLE");
    expect(isStrataError(error) && error.status).toBe(503);
    // A bad token is still refused as such: the signature check needs no database.
    expect(await refusal(one!.auth.verify(`${issued.token.slice(0, -4)}AAAA`))).toBe("UNAUTHENTICATED: the token's signature does not verify");
  } finally {
    await sqld.start();
  }
  let answer = "";
  for (let attempt = 0; attempt < 100; attempt++) {
    answer = await refusal(one!.auth.verify(issued.token));
    if (answer === "accepted") break;
    await Bun.sleep(100);
  }
  expect(answer).toBe("accepted");
}, 60_000);
