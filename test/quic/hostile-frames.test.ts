// Malformed and oversized frames from a raw QUIC connection: each gets an error frame and its
// stream is closed; the gateway keeps serving other streams and connections.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { encodeFrame, frameHeader } from "../../core/quic/frames.ts";
import { FrameReader } from "../../core/quic/stream.ts";
import { QuicClient } from "../../edge/transports/quic-client.ts";
import { connectQuic } from "../../runtime/quic/connect.ts";
import { openGateway } from "../../gateway/gateway.ts";
import { startQuicServer } from "../../gateway/quic/server.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { exchange, HELLO, quicGateway, type QuicGateway } from "./quic-fixture.ts";

let gw: QuicGateway;

beforeAll(async () => {
  gw = await quicGateway({ maxFrameBytes: 1024 * 1024 });
  await gw.gateway.services.streams.create({ name: "hostile/s", partitions: 1 });
});
afterAll(async () => gw?.close());

async function stillServes(): Promise<void> {
  const client = await QuicClient.connect({ host: "127.0.0.1", port: gw.port, ca: gw.ca });
  try {
    expect(await client.publish("hostile/s", { records: [{ fields: { ok: true } }] })).toHaveLength(1);
  } finally {
    await client.close();
  }
}

test("a malformed frame on the control stream gets an error frame and the stream ends", async () => {
  const connection = await connectQuic({ host: "127.0.0.1", port: gw.port, ca: gw.ca });
  try {
    const garbage = Uint8Array.of(0xc1, 0xc1, 0xc1);
    const frames = await exchange(connection, HELLO, frameHeader(garbage.length), garbage);
    expect(frames[0]!.t).toBe("hello-ok");
    expect(frames.at(-1)).toMatchObject({ t: "error", code: "BAD_REQUEST" });
    expect(String(frames.at(-1)!.message)).toContain("malformed frame");
  } finally {
    await connection.close();
  }
  await stillServes();
});

test("an oversized frame is refused from its length prefix alone", async () => {
  const connection = await connectQuic({ host: "127.0.0.1", port: gw.port, ca: gw.ca });
  try {
    // Announces 4 GiB - 1 and sends only a few bytes of it: nothing of that size is allocated.
    const frames = await exchange(connection, HELLO, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 2, 3));
    expect(frames.at(-1)).toMatchObject({ t: "error", code: "PAYLOAD_TOO_LARGE" });
  } finally {
    await connection.close();
  }
  await stillServes();
});

test("a frame that is valid MessagePack but a bad request answers that request only", async () => {
  const connection = await connectQuic({ host: "127.0.0.1", port: gw.port, ca: gw.ca });
  try {
    const stream = await connection.openBidi();
    const reader = new FrameReader(stream.chunks, 1024 * 1024);
    await stream.write(HELLO);
    expect((await reader.next())!.t).toBe("hello-ok");
    await stream.write(encodeFrame({ t: "publish", id: 5, stream: 12, records: "no" }));
    expect(await reader.next()).toMatchObject({ t: "error", id: 5, code: "BAD_REQUEST" });
    await stream.write(encodeFrame({ t: "warp", id: 6 }));
    expect(await reader.next()).toMatchObject({ t: "error", id: 6, code: "BAD_REQUEST" });
    await stream.write(encodeFrame({ t: "publish", id: 7, stream: "hostile/s", records: [{ fields: { x: 1 } }] }));
    expect(await reader.next()).toMatchObject({ t: "ack", id: 7 });
    await stream.end();
    expect(await reader.next()).toBeNull();
  } finally {
    await connection.close();
  }
});

test("streams that do not start with hello or a bulk request are refused", async () => {
  const connection = await connectQuic({ host: "127.0.0.1", port: gw.port, ca: gw.ca });
  try {
    const frames = await exchange(connection, encodeFrame({ t: "publish", id: 1, stream: "hostile/s", records: [] }));
    expect(frames).toEqual([expect.objectContaining({ t: "error", code: "BAD_REQUEST" })]);
    const notMap = Uint8Array.of(0x93, 1, 2, 3);
    const frames2 = await exchange(connection, frameHeader(notMap.length), notMap);
    expect(frames2).toEqual([expect.objectContaining({ t: "error", code: "BAD_REQUEST" })]);
  } finally {
    await connection.close();
  }
  await stillServes();
});

test("a bulk chunks-put with malformed entries is an error frame on that stream", async () => {
  const client = await QuicClient.connect({ host: "127.0.0.1", port: gw.port, ca: gw.ca });
  const connection = await connectQuic({ host: "127.0.0.1", port: gw.port, ca: gw.ca });
  try {
    const control = await connection.openBidi();
    await control.write(HELLO);
    const reader = new FrameReader(control.chunks, 1024 * 1024);
    expect((await reader.next())!.t).toBe("hello-ok");
    const frames = await exchange(connection, encodeFrame({ t: "chunks-put", chunks: [[1, 2]] }));
    expect(frames).toEqual([expect.objectContaining({ t: "error", code: "BAD_REQUEST" })]);
  } finally {
    await connection.close();
    await client.close();
  }
});

test("a connection that never sends hello is closed after helloTimeoutMs", async () => {
  const strict = await quicGateway({ helloTimeoutMs: 300 });
  try {
    const connection = await connectQuic({ host: "127.0.0.1", port: strict.port, ca: strict.ca });
    const closed = await Promise.race([connection.closed.then(() => "closed"), new Promise((resolve) => setTimeout(() => resolve("open"), 3000))]);
    expect(closed).toBe("closed");
  } finally {
    await strict.close();
  }
});

test("a malformed hello is refused with an error frame", async () => {
  const connection = await connectQuic({ host: "127.0.0.1", port: gw.port, ca: gw.ca });
  try {
    expect(await exchange(connection, encodeFrame({ t: "hello", versions: "1" }))).toEqual([expect.objectContaining({ t: "error", code: "BAD_REQUEST" })]);
    const tiny = await connectQuic({ host: "127.0.0.1", port: gw.port, ca: gw.ca });
    const frames = await exchange(tiny, encodeFrame({ t: "hello", versions: [1], max_frame_bytes: 10 }));
    expect(frames).toEqual([expect.objectContaining({ t: "error", code: "BAD_REQUEST" })]);
    expect(String(frames[0]!.message)).toContain("max_frame_bytes");
    await tiny.close();
  } finally {
    await connection.close();
  }
});

test("a gateway with a token refuses a hello without it", async () => {
  const dataDir = tempDir("strata-quic-token-");
  const gateway = await openGateway({ dataDir, artefacts: { gcIntervalMs: 0 } });
  const server = await startQuicServer(gateway.services, { host: "127.0.0.1", port: 0, dataDir, token: "s3cret" });
  try {
    const options = { host: "127.0.0.1", port: server.listener.port, ca: server.tls.certPem };
    await expect(QuicClient.connect(options)).rejects.toThrow(/token/);
    const client = await QuicClient.connect({ ...options, token: "s3cret" });
    expect(client.session.version).toBe(1);
    await client.close();
  } finally {
    await server.close();
    await gateway.close();
    removeDir(dataDir);
  }
});
