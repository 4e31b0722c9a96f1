// The group frames' scopes over QUIC against a real gateway process with --auth, as the HTTP
// routes: a heartbeat needs consume on every stream it subscribes to, a leave consume on every
// stream of that member, a commit consume on its stream; refused requests are FORBIDDEN with
// their id and change nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseScope } from "../../core/auth/scopes.ts";
import { encodeFrame, type Frame } from "../../core/quic/frames.ts";
import { FrameReader, type QuicConnection, type QuicDuplex } from "../../core/quic/stream.ts";
import { SIGNING_KEY_FILE } from "../../gateway/auth/gateway-auth.ts";
import { loadOrCreateSigningKey } from "../../gateway/auth/signing-key.ts";
import { TokenService } from "../../gateway/auth/token-service.ts";
import { openDatabase, type Database } from "../../gateway/db/database.ts";
import { connectQuic } from "../../runtime/quic/connect.ts";
import { waitFor } from "../edge/edge-fixtures.ts";
import { removeDir, startGateway, tempDir, type GatewayProcess } from "../helpers/gateway.ts";

let dataDir: string;
let gateway: GatewayProcess;
let quicPort = 0;
let ca = "";
let database: Database;
let issuer: TokenService;
const open: QuicConnection[] = [];

interface Control {
  ask(frame: Record<string, unknown> & { t: string }): Promise<Frame>;
}

/** A control stream whose hello carried a token with `scopes`. */
async function controlWith(scopes: string[]): Promise<Control> {
  const { token } = await issuer.issue({ scopes: scopes.map(parseScope), ttlS: 3600 });
  const connection = await connectQuic({ host: "127.0.0.1", port: quicPort, ca });
  open.push(connection);
  const stream: QuicDuplex = await connection.openBidi();
  const reader = new FrameReader(stream.chunks, 1 << 20);
  await stream.write(encodeFrame({ t: "hello", versions: [1], token }));
  const hello = await reader.next();
  if (hello?.t !== "hello-ok") throw new Error(`hello answered ${JSON.stringify(hello)}`);
  let id = 1;
  return {
    async ask(frame) {
      const mine = id++;
      await stream.write(encodeFrame({ ...frame, id: mine }));
      const answer = await reader.next();
      if (answer === null) throw new Error("the gateway ended the control stream");
      expect(answer.id).toBe(mine);
      return answer;
    },
  };
}

beforeAll(async () => {
  dataDir = tempDir("strata-groups-quic-auth-");
  gateway = await startGateway({ dataDir, args: ["--quic-port", "0", "--auth"], timeoutMs: 60_000 });
  let match: RegExpExecArray | null = null;
  await waitFor(() => (match = /quic:\/\/\S+:(\d+) .*certificate (\S+?)(?:,|;)/.exec(gateway.output())) !== null, 30_000, "the QUIC listening line");
  const found: RegExpExecArray = match!;
  quicPort = Number(found[1]);
  ca = await Bun.file(found[2]!).text();
  database = await openDatabase(`file:${join(dataDir, "strata.db")}`);
  issuer = new TokenService(database.db, await loadOrCreateSigningKey(join(dataDir, SIGNING_KEY_FILE)));
  const admin = await controlWith(["admin:>"]);
  for (const name of ["team/a", "other/b"]) expect(await admin.ask({ t: "stream-create", name, partitions: 2 })).toMatchObject({ t: "stream" });
}, 90_000);

afterAll(async () => {
  for (const c of open) await c.close().catch(() => undefined);
  database?.close();
  await gateway?.stop();
  removeDir(dataDir);
});

describe("group frames under --auth", () => {
  test("heartbeat, commit and leave need consume on their streams", async () => {
    const team = await controlWith(["consume:team/>"]);
    const everything = await controlWith(["consume:>"]);
    const join = { t: "heartbeat", group: "auth-g", session_timeout_ms: 30_000 };

    // A subscription reaching past the token's streams is refused whole; nothing joins.
    expect(await team.ask({ ...join, member: "t1", streams: ["team/a", "other/b"] })).toMatchObject({ t: "error", code: "FORBIDDEN" });
    const t1 = await team.ask({ ...join, member: "t1", streams: ["team/a"] });
    expect(t1).toMatchObject({ t: "heartbeat-ok", assignment: [{ stream: "team/a", partition: 0 }, { stream: "team/a", partition: 1 }] });

    // A commit on a stream out of scope is refused before the group service sees it.
    expect(await team.ask({ t: "commit", group: "auth-g", stream: "other/b", partition: 0, offset: 0, member: "t1", member_epoch: t1.member_epoch })).toMatchObject({ t: "error", code: "FORBIDDEN" });
    expect(await team.ask({ t: "commit", group: "auth-g", stream: "team/a", partition: 0, offset: 0, member: "t1", member_epoch: t1.member_epoch })).toMatchObject({ t: "committed" });

    // A member subscribed to both streams may be removed only by a token that may consume both.
    expect(await everything.ask({ ...join, member: "wide", streams: ["team/a", "other/b"] })).toMatchObject({ t: "heartbeat-ok" });
    expect(await team.ask({ t: "leave", group: "auth-g", member: "wide" })).toMatchObject({ t: "error", code: "FORBIDDEN" });
    expect(await everything.ask({ t: "leave", group: "auth-g", member: "wide" })).toMatchObject({ t: "left", member: "wide" });
    expect(await team.ask({ t: "leave", group: "auth-g", member: "t1" })).toMatchObject({ t: "left", member: "t1" });
    expect(await team.ask({ t: "leave", group: "auth-g", member: "t1" })).toMatchObject({ t: "error", code: "UNKNOWN_MEMBER" });
  });
});
