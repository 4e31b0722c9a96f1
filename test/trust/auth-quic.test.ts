// Tokens over QUIC against a real gateway process (`strata serve --quic-port 0 --auth`):
// the hello's token is verified (no token, malformed, bad signature, expired, revoked: an
// UNAUTHENTICATED error frame and the connection ends), and each request is authorized like its
// HTTP route (out-of-scope stream or action: a FORBIDDEN error frame with the request's id,
// nothing written). Tokens are issued and revoked through the gateway's own metadata database
// from this process, so a revocation crosses a process boundary as it does in production.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPair, SignJWT } from "jose";
import { join } from "node:path";
import { StrataError } from "../../core/errors.ts";
import { failure } from "../helpers/failure.ts";
import { parseScope } from "../../core/auth/scopes.ts";
import { blake3 } from "../../core/hashing/blake3.ts";
import { QuicClient } from "../../edge/transports/quic-client.ts";
import { SIGNING_KEY_FILE } from "../../gateway/auth/gateway-auth.ts";
import { loadOrCreateSigningKey, TOKEN_ALG } from "../../gateway/auth/signing-key.ts";
import { TokenService } from "../../gateway/auth/token-service.ts";
import { openDatabase, type Database } from "../../gateway/db/database.ts";
import { openGateway } from "../../gateway/gateway.ts";
import { startQuicServer } from "../../gateway/quic/server.ts";
import { removeDir, startGateway, tempDir, type GatewayProcess } from "../helpers/gateway.ts";
import { waitFor } from "../edge/edge-fixtures.ts";

let dataDir: string;
let gateway: GatewayProcess;
let quicPort: number;
let ca: string;
let database: Database;
let issuer: TokenService;
let admin: QuicClient;

async function startAuthGateway(): Promise<void> {
  dataDir = tempDir("strata-auth-quic-");
  gateway = await startGateway({ dataDir, args: ["--quic-port", "0", "--auth"], timeoutMs: 60_000 });
  let match: RegExpExecArray | null = null;
  await waitFor(() => (match = /quic:\/\/\S+:(\d+) .*certificate (\S+?)(?:,|;)/.exec(gateway.output())) !== null, 30_000, "the QUIC listening line");
  quicPort = Number(match![1]);
  ca = await Bun.file(match![2]!).text();
}

beforeAll(async () => {
  await startAuthGateway();
  database = await openDatabase(`file:${join(dataDir, "strata.db")}`);
  issuer = new TokenService(database.db, await loadOrCreateSigningKey(join(dataDir, SIGNING_KEY_FILE)));
  const adminToken = (await Bun.file(join(dataDir, "admin.token")).text()).trim();
  admin = await connect(adminToken);
  await admin.createStream("sensors/a", { partitions: 1 });
  await admin.createStream("models/m", { partitions: 1 });
}, 90_000);

afterAll(async () => {
  await admin?.close();
  database?.close();
  await gateway?.stop();
  removeDir(dataDir);
});

function connect(token: string | undefined): Promise<QuicClient> {
  return QuicClient.connect({ host: "127.0.0.1", port: quicPort, ca, ...(token !== undefined ? { token } : {}) });
}

async function issue(scopes: string[], subject?: string, ttlS = 3600): Promise<{ token: string; id: string }> {
  return issuer.issue({ scopes: scopes.map(parseScope), ttlS, subject });
}


async function endOffset(stream: string): Promise<number> {
  return (await admin.streamInfo(stream)).partitions[0]!.end_offset;
}

const record = (v: string) => ({ fields: { v } });

describe("the hello's token", () => {
  test("no token: UNAUTHENTICATED", async () => {
    const e = await failure(connect(undefined));
    expect(e.code).toBe("UNAUTHENTICATED");
  });

  test("a malformed token: UNAUTHENTICATED", async () => {
    const e = await failure(connect("not.a.jwt"));
    expect(e.code).toBe("UNAUTHENTICATED");
  });

  test("a token signed by another key: UNAUTHENTICATED", async () => {
    const other = await generateKeyPair(TOKEN_ALG, { crv: "Ed25519" });
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ scopes: [{ action: "admin", streams: ">" }] })
      .setProtectedHeader({ alg: TOKEN_ALG, typ: "JWT" })
      .setSubject("mallory")
      .setJti("forged")
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(other.privateKey);
    const e = await failure(connect(forged));
    expect(e.code).toBe("UNAUTHENTICATED");
    expect(e.message).toContain("signature");
  });

  test("an expired token: UNAUTHENTICATED", async () => {
    const key = await loadOrCreateSigningKey(join(dataDir, SIGNING_KEY_FILE));
    const past = Math.floor(Date.now() / 1000) - 3600;
    const expired = await new SignJWT({ scopes: [{ action: "admin", streams: ">" }] })
      .setProtectedHeader({ alg: TOKEN_ALG, kid: key.keyId, typ: "JWT" })
      .setSubject("late")
      .setJti("expired-token")
      .setIssuedAt(past - 60)
      .setExpirationTime(past)
      .sign(key.privateKey);
    const e = await failure(connect(expired));
    expect(e.code).toBe("UNAUTHENTICATED");
    expect(e.message).toContain("expired");
  });

  test("a revoked token: refused at hello, and an open connection's next request is refused and the connection ends", async () => {
    const { token, id } = await issue(["publish:sensors/>"], "revokee");
    const open = await connect(token);
    expect((await open.publish("sensors/a", { records: [record("before")] })).length).toBe(1);
    await issuer.revoke(id);
    // The gateway reloads revocations at least every second; no fixed sleep, the condition is polled.
    await waitFor(async () => (await connect(token).then((c) => (void c.close(), false), (e: unknown) => e instanceof StrataError && e.code === "UNAUTHENTICATED")), 10_000, "the revocation to reach the gateway");
    let refused: StrataError | undefined;
    await waitFor(async () => {
      refused = await open.publish("sensors/a", { records: [record("after")] }).then(() => undefined, (e: unknown) => (e instanceof StrataError ? e : undefined));
      return refused !== undefined;
    }, 10_000, "the open connection to see the revocation");
    expect(refused!.code).toBe("UNAUTHENTICATED");
    await open.closed;
    await open.close();
  });
});

describe("requests are authorized by the token's scopes", () => {
  test("an out-of-scope stream: FORBIDDEN and nothing written", async () => {
    const client = await connect((await issue(["publish:sensors/>", "consume:sensors/>"])).token);
    try {
      const before = await endOffset("models/m");
      for (const attempt of [
        client.publish("models/m", { records: [record("x")] }),
        client.fetch({ stream: "models/m", partition: 0, offset: 0 }),
        client.commit("g", { stream: "models/m", partition: 0, offset: 0 }),
        client.streamInfo("models/m"),
        client.createStream("models/new"),
      ]) {
        const e = await failure(attempt);
        expect(e.code).toBe("FORBIDDEN");
      }
      expect(await endOffset("models/m")).toBe(before);
      // The connection goes on: in-scope requests are served.
      const [pos] = await client.publish("sensors/a", { records: [record("ok")] });
      expect((await client.fetch({ stream: "sensors/a", partition: 0, offset: pos!.offset })).records.length).toBe(1);
    } finally {
      await client.close();
    }
  });

  test("an out-of-scope action: FORBIDDEN", async () => {
    const consumer = await connect((await issue(["consume:sensors/>"])).token);
    const publisher = await connect((await issue(["publish:sensors/>"])).token);
    try {
      const before = await endOffset("sensors/a");
      expect((await failure(consumer.publish("sensors/a", { records: [record("x")] }))).code).toBe("FORBIDDEN");
      expect((await failure(consumer.createStream("sensors/b"))).code).toBe("FORBIDDEN");
      expect((await failure(consumer.putChunks([{ hash: blake3(new Uint8Array([1])), data: new Uint8Array([1]) }]))).code).toBe("FORBIDDEN");
      expect((await failure(consumer.missingChunks([blake3(new Uint8Array([1]))]))).code).toBe("FORBIDDEN");
      expect(await endOffset("sensors/a")).toBe(before);
      expect((await failure(publisher.fetch({ stream: "sensors/a", partition: 0, offset: 0 }))).code).toBe("FORBIDDEN");
      expect((await failure(publisher.latest({ stream: "sensors/a" }))).code).toBe("FORBIDDEN");
      expect((await failure(publisher.commit("g", { stream: "sensors/a", partition: 0, offset: 0 }))).code).toBe("FORBIDDEN");
      expect((await failure(publisher.getManifest("00".repeat(32)))).code).toBe("FORBIDDEN");
      const chunkGet = async () => {
        for await (const _ of publisher.getChunks([blake3(new Uint8Array([1]))])) void _;
      };
      expect((await failure(chunkGet())).code).toBe("FORBIDDEN");
      // Each may do its own part: a consumer reads and commits, a publisher writes and uploads.
      expect((await consumer.fetch({ stream: "sensors/a", partition: 0, offset: 0 })).records.length).toBeGreaterThan(0);
      expect((await consumer.commit("g", { stream: "sensors/a", partition: 0, offset: 1 })).offset).toBe(1);
      expect((await consumer.streamInfo("sensors/a")).name).toBe("sensors/a");
      expect((await publisher.streamInfo("sensors/a")).name).toBe("sensors/a");
      expect((await publisher.publish("sensors/a", { records: [record("p")] })).length).toBe(1);
    } finally {
      await consumer.close();
      await publisher.close();
    }
  });

  test("admin: every request is served", async () => {
    const data = new TextEncoder().encode("chunk for the admin");
    const hash = blake3(data);
    await admin.createStream("anything/at/all", { partitions: 1 });
    const [pos] = await admin.publish("anything/at/all", { records: [record("a")] });
    expect((await admin.fetch({ stream: "anything/at/all", partition: 0, offset: pos!.offset })).records.length).toBe(1);
    expect((await admin.commit("ops", { stream: "anything/at/all", partition: 0, offset: 1 })).offset).toBe(1);
    expect((await admin.missingChunks([hash])).length).toBe(1);
    expect((await admin.putChunks([{ hash, data }])).stored).toBe(1);
    const got: Uint8Array[] = [];
    for await (const chunk of admin.getChunks([hash])) got.push(chunk.data);
    expect(got).toEqual([data]);
    expect((await failure(admin.getManifest("00".repeat(32)))).code).toBe("NOT_FOUND");
  });
});

test("a subject cannot publish with, or fence, a producer id another subject registered over QUIC", async () => {
  const a = await connect((await issue(["publish:sensors/>"], "node-a")).token);
  const b = await connect((await issue(["publish:sensors/>"], "node-b")).token);
  try {
    const id = 2 ** 50 + 7;
    await a.publish("sensors/a", { records: [record("a0")], producer: { id, epoch: 1, seq: 0 } });
    const before = await endOffset("sensors/a");
    for (const producer of [{ id, epoch: 1, seq: 1 }, { id, epoch: 2, seq: 0 }, { id, epoch: 65535, seq: 0 }]) {
      expect((await failure(b.publish("sensors/a", { records: [record("b")], producer }))).code).toBe("FORBIDDEN");
    }
    expect(await endOffset("sensors/a")).toBe(before);
    expect((await a.publish("sensors/a", { records: [record("a1")], producer: { id, epoch: 1, seq: 1 } })).length).toBe(1);
    expect(await endOffset("sensors/a")).toBe(before + 1);
  } finally {
    await a.close();
    await b.close();
  }
});

test("with auth on, the library's shared QUIC token cannot be set too", async () => {
  const dir = tempDir("strata-auth-quic-shared-");
  const gw = await openGateway({ dataDir: dir, auth: { enabled: true }, artefacts: { gcIntervalMs: 0 } });
  try {
    const e = await failure(startQuicServer(gw.services, { host: "127.0.0.1", port: 0, dataDir: dir, token: "s3cret" }));
    expect(e.code).toBe("BAD_REQUEST");
  } finally {
    await gw.close();
    removeDir(dir);
  }
});
