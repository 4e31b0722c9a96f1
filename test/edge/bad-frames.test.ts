// Hostile input while an edge node syncs over QUIC (through the UDP proxy): garbage datagrams at
// the gateway's QUIC port, garbage injected into the established edge↔gateway path in both
// directions, and malformed frames on established streams of other connections. Each malformed
// frame is answered with an error frame; the sync completes exactly once, in order; the gateway
// and the edge are still running. Under the gateway on Bun (node:quic) and on Deno.
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { afterEach, expect, test } from "bun:test";
import { encodeFrame, frameHeader, type Frame } from "../../core/quic/frames.ts";
import { FrameReader, type QuicConnection } from "../../core/quic/stream.ts";
import { connectQuic } from "../../runtime/quic/connect.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { UdpProxy } from "../helpers/udp-proxy.ts";
import { cliOk, endOffset, freePort, recordLines, waitFor } from "./edge-fixtures.ts";
import { drainedExactly, edgeRunUnder, startQuicGateway } from "./quic-gateway-fixture.ts";

const cleanup: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

function dir(prefix: string): string {
  const d = tempDir(prefix);
  cleanup.push(() => removeDir(d));
  return d;
}

/** Datagrams no QUIC endpoint can accept: random bytes, fake long-header Initials, an unknown version, short headers. */
function garbageDatagrams(count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const kind = i % 4;
    if (kind === 0) out.push(randomBytes(1 + (i % 1400)));
    else if (kind === 1) out.push(Uint8Array.from([0xc3, 0, 0, 0, 1, 8, ...randomBytes(8), 8, ...randomBytes(8), ...randomBytes(1180)]));
    else if (kind === 2) out.push(Uint8Array.from([0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 8, ...randomBytes(8), 0, ...randomBytes(1186)]));
    else out.push(Uint8Array.from([0x40 | (i & 0x3f), ...randomBytes(20 + (i % 200))]));
  }
  return out;
}

async function sendDatagrams(port: number, datagrams: readonly Uint8Array[]): Promise<void> {
  const socket = createSocket("udp4");
  try {
    for (const d of datagrams) await new Promise<void>((resolve) => socket.send(d, port, "127.0.0.1", () => resolve()));
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

/** Writes `pieces` on a new stream and reads every frame the gateway answers until it ends the stream. */
async function exchange(connection: QuicConnection, pieces: readonly Uint8Array[]): Promise<Frame[]> {
  const stream = await connection.openBidi();
  for (const piece of pieces) await stream.write(piece);
  const reader = new FrameReader(stream.chunks, 1 << 20);
  const frames: Frame[] = [];
  for (let i = 0; i < 16; i++) {
    const frame = await reader.next();
    if (frame === null) return frames;
    frames.push(frame);
  }
  throw new Error(`more than 16 frames: ${JSON.stringify(frames.map((f) => f.t))}`);
}

const hello = encodeFrame({ t: "hello", versions: [1] });

async function hostileDuringSync(gatewayRuntime: "bun" | "deno"): Promise<void> {
  const [httpPort, quicPort] = [await freePort(), await freePort()];
  const gw = await startQuicGateway({ runtime: gatewayRuntime, dataDir: dir("strata-bad-gw-"), httpPort, quicPort, timeoutMs: 60_000 });
  cleanup.push(() => gw.kill());
  const proxy = await UdpProxy.start({ targetPort: quicPort });
  cleanup.push(() => proxy.stop());
  const a = dir("strata-bad-edge-");
  const stream = `bad/${gatewayRuntime}`;
  const total = 1500;
  await cliOk(["edge", "publish", "--data", a, stream, "--batch", "5"], recordLines("a", 0, total, 200));
  const auth = gatewayRuntime === "bun" ? ["--fingerprint", gw.fingerprint] : ["--ca", gw.caFile];
  const run = edgeRunUnder("bun", ["--data", a, "--gateway", `quic://127.0.0.1:${proxy.port}`, ...auth, "--http", gw.url, "--rate-limit", "96K"]);
  cleanup.push(() => run.kill());
  await waitFor(async () => (await endOffset(gw.url, stream)) >= 100, 15_000, "part of the drain");

  // Garbage at the QUIC port from a fresh address, and into the established path both ways.
  await sendDatagrams(quicPort, garbageDatagrams(200));
  const junk = garbageDatagrams(80);
  let injected = 0;
  for (const d of junk) injected += proxy.inject("up", d) + proxy.inject("down", d);
  expect(injected).toBeGreaterThan(0);

  // Malformed frames on established streams of other connections (the test process's own client).
  const ca = (await Bun.file(gw.caFile).text());
  const raw = await connectQuic({ host: "127.0.0.1", port: quicPort, ca });
  cleanup.push(() => raw.close());
  const junkPayload = Uint8Array.of(0xc1, 0xc1, 0xc1);
  const malformed = await exchange(raw, [hello, frameHeader(junkPayload.length), junkPayload]);
  expect(malformed[0]!.t).toBe("hello-ok");
  expect(malformed.at(-1)).toMatchObject({ t: "error", code: "BAD_REQUEST" });
  const raw2 = await connectQuic({ host: "127.0.0.1", port: quicPort, ca });
  cleanup.push(() => raw2.close());
  const oversized = await exchange(raw2, [hello, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 2, 3)]);
  expect(oversized.at(-1)).toMatchObject({ t: "error", code: "PAYLOAD_TOO_LARGE" });
  const raw3 = await connectQuic({ host: "127.0.0.1", port: quicPort, ca });
  cleanup.push(() => raw3.close());
  const control = await raw3.openBidi();
  const reader = new FrameReader(control.chunks, 1 << 20);
  await control.write(hello);
  expect((await reader.next())!.t).toBe("hello-ok");
  // A request with ill-typed fields answers that request only; the stream goes on.
  await control.write(encodeFrame({ t: "publish", id: 9, stream: 12, records: "no" }));
  expect(await reader.next()).toMatchObject({ t: "error", id: 9, code: "BAD_REQUEST" });
  // A non-hello first frame on a new stream, and a zero-length frame.
  expect(await exchange(raw3, [encodeFrame({ t: "publish", id: 1, stream, records: [] })])).toEqual([expect.objectContaining({ t: "error", code: "BAD_REQUEST" })]);
  await control.write(Uint8Array.of(0, 0, 0, 0));
  expect(await reader.next()).toMatchObject({ t: "error", code: "BAD_REQUEST" });
  await Promise.all([raw.close(), raw2.close(), raw3.close()]);

  // All of it happened mid-sync.
  expect(await endOffset(gw.url, stream)).toBeLessThan(total);
  expect(gw.alive()).toBe(true);
  expect(run.alive()).toBe(true);
  await drainedExactly(run, () => gw, a, stream, { a: total }, 20_000);
  expect(run.output()).toContain(`syncing over quic 127.0.0.1:${proxy.port}`);
}

test("garbage datagrams and malformed frames during a sync, gateway under Bun", () => hostileDuringSync("bun"), 40_000);

test("garbage datagrams and malformed frames during a sync, gateway under Deno", () => hostileDuringSync("deno"), 60_000);
