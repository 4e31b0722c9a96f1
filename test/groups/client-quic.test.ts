// The consumer-group frames over a real QUIC connection to a gateway's QUIC listener: heartbeat
// answers heartbeat-ok exactly as the HTTP route does (joins, epochs, balanced assignment across
// two members, revocation before reassignment), commit carries member and member_epoch (a stale
// epoch is STALE_MEMBER_EPOCH), leave hands the partitions to the other member.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeFrame, type Frame } from "../../core/quic/frames.ts";
import { type HeartbeatOkMessage, parseMessageOf } from "../../core/quic/messages.ts";
import type { FrameReader, QuicConnection, QuicDuplex } from "../../core/quic/stream.ts";
import { connectQuic } from "../../runtime/quic/connect.ts";
import { openControl, quicGateway, type QuicGateway } from "../quic/quic-fixture.ts";

const STREAM = "quic/groups";
const PARTITIONS = 4;
let gw: QuicGateway;
let connection: QuicConnection;
let control: { stream: QuicDuplex; reader: FrameReader };
let nextId = 1;

/** Sends one request frame and reads its answer (requests here go one at a time). */
async function ask(frame: Record<string, unknown> & { t: string }): Promise<Frame> {
  const id = nextId++;
  await control.stream.write(encodeFrame({ ...frame, id }));
  const answer = await control.reader.next();
  if (answer === null) throw new Error("the gateway ended the control stream");
  expect(answer.id).toBe(id);
  return answer;
}

type HeartbeatOk = HeartbeatOkMessage;

/** The frame as a heartbeat-ok, validated by the protocol's schema. */
function heartbeatOk(frame: Frame): HeartbeatOk {
  expect(frame.t).toBe("heartbeat-ok");
  return parseMessageOf(frame, ["heartbeat-ok"], "as a heartbeat answer");
}

const partitionsOf = (a: HeartbeatOk) => a.assignment.map((p) => p.partition).sort();

beforeAll(async () => {
  gw = await quicGateway();
  await gw.gateway.services.streams.create({ name: STREAM, partitions: PARTITIONS });
  await gw.gateway.services.log.publish(STREAM, { records: Array.from({ length: 8 }, (_, i) => ({ key: null, headers: {}, partition: i % PARTITIONS, fields: { i } })), producer: null }, "local");
  connection = await connectQuic({ host: "127.0.0.1", port: gw.port, ca: gw.ca });
  control = await openControl(connection);
});

afterAll(async () => {
  await connection?.close();
  await gw?.close();
});

describe("group frames over QUIC", () => {
  test("heartbeat, commit with member and epoch, revocation before reassignment, leave", async () => {
    const join = { t: "heartbeat", group: "qg", streams: [STREAM], session_timeout_ms: 30_000 };
    const a1 = heartbeatOk(await ask({ ...join, member: "a" }));
    expect(partitionsOf(a1)).toEqual([0, 1, 2, 3]);
    expect(a1.heartbeat_interval_ms).toBe(10_000);

    // A commit with the member and its epoch; the plain form is refused now that the group has members.
    const committed = await ask({ t: "commit", group: "qg", stream: STREAM, partition: 1, offset: 2, member: "a", member_epoch: a1.member_epoch });
    expect(committed).toMatchObject({ t: "committed", stream: STREAM, partition: 1, offset: 2 });
    expect(await ask({ t: "commit", group: "qg", stream: STREAM, partition: 1, offset: 2 })).toMatchObject({ t: "error", code: "STALE_MEMBER_EPOCH" });

    // b joins: it gets nothing until a, told to give up two partitions, acknowledges.
    const b1 = heartbeatOk(await ask({ ...join, member: "b" }));
    expect(b1.assignment).toEqual([]);
    const a2 = heartbeatOk(await ask({ ...join, member: "a", member_epoch: a1.member_epoch }));
    expect(a2.assignment).toHaveLength(2);
    const revoked = [0, 1, 2, 3].filter((p) => !partitionsOf(a2).includes(p));
    // A revoked partition may still get its final commit before the acknowledgement.
    expect(await ask({ t: "commit", group: "qg", stream: STREAM, partition: revoked[0], offset: 1, member: "a", member_epoch: a2.member_epoch })).toMatchObject({ t: "committed" });
    heartbeatOk(await ask({ ...join, member: "a", member_epoch: a2.member_epoch }));
    const b2 = heartbeatOk(await ask({ ...join, member: "b", member_epoch: b1.member_epoch }));
    expect(partitionsOf(b2)).toEqual(revoked);
    // a no longer owns them: its commit there is stale.
    expect(await ask({ t: "commit", group: "qg", stream: STREAM, partition: revoked[0], offset: 2, member: "a", member_epoch: a2.member_epoch })).toMatchObject({ t: "error", code: "STALE_MEMBER_EPOCH" });

    // An unknown member's heartbeat with an epoch: rejoin without one.
    expect(await ask({ ...join, member: "ghost", member_epoch: 3 })).toMatchObject({ t: "error", code: "UNKNOWN_MEMBER" });
    // A malformed heartbeat is refused naming the field, and the connection goes on.
    expect(await ask({ t: "heartbeat", group: "qg", member: "a", streams: [] })).toMatchObject({ t: "error", code: "BAD_REQUEST" });

    // a leaves: b gets every partition on its next heartbeat.
    expect(await ask({ t: "leave", group: "qg", member: "a" })).toMatchObject({ t: "left", group: "qg", member: "a" });
    const b3 = heartbeatOk(await ask({ ...join, member: "b", member_epoch: b2.member_epoch }));
    expect(partitionsOf(b3)).toEqual([0, 1, 2, 3]);
    expect(await ask({ t: "leave", group: "qg", member: "a" })).toMatchObject({ t: "error", code: "UNKNOWN_MEMBER" });

    // The HTTP view agrees: one member, b, owning everything.
    const d = await gw.gateway.services.groups.describe("qg");
    expect(d.members.map((m) => [m.member, m.assignment.length])).toEqual([["b", PARTITIONS]]);
  });
});
