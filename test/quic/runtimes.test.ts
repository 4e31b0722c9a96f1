// Interop across runtimes over real QUIC between two processes: the gateway under Deno
// (Deno.QuicEndpoint) with the client under Bun (node:quic), and the gateway under Bun with the
// client under Deno. Malformed frames get an error frame and both processes keep running.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, expect, test } from "bun:test";
import { QuicClient } from "../../edge/transports/quic-client.ts";
import { ROOT, removeDir, tempDir } from "../helpers/gateway.ts";
import { encodeFrame, frameHeader } from "../../core/quic/frames.ts";
import { FrameReader } from "../../core/quic/stream.ts";
import { connectQuic } from "../../runtime/quic/connect.ts";
import { DENO, startQuicGateway, type QuicGatewayProcess } from "../edge/quic-gateway-fixture.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

async function serveUnder(runtime: "bun" | "deno"): Promise<QuicGatewayProcess> {
  const dataDir = tempDir("strata-quic-rt-");
  dirs.push(dataDir);
  return startQuicGateway({ runtime, dataDir, httpPort: 0, quicPort: 0, timeoutMs: 60_000 });
}

async function createStream(http: string, name: string): Promise<void> {
  const response = await fetch(`${http}/v1/streams`, { method: "POST", body: JSON.stringify({ name, partitions: 1 }) });
  expect(response.status).toBe(201);
}

test("Bun client against the Deno gateway: publish, retry, fetch, chunks, malformed frames", async () => {
  const gw = await serveUnder("deno");
  try {
    await createStream(gw.url, "rt/deno-gw");
    const ca = readFileSync(gw.caFile, "utf8");
    const client = await QuicClient.connect({ host: "127.0.0.1", port: gw.quicPort, ca });
    const producer = { id: 5, epoch: 0, seq: 0 };
    const first = await client.publish("rt/deno-gw", { records: [{ fields: { n: 1 } }], producer });
    expect(await client.publish("rt/deno-gw", { records: [{ fields: { n: 1 } }], producer })).toEqual(first);
    const page = await client.fetch({ stream: "rt/deno-gw", partition: 0, offset: 0 });
    expect(page.records.map((r) => r.fields)).toEqual([{ n: 1 }]);

    const raw = await connectQuic({ host: "127.0.0.1", port: gw.quicPort, ca });
    const control = await raw.openBidi();
    await control.write(encodeFrame({ t: "hello", versions: [1] }));
    await control.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff));
    const reader = new FrameReader(control.chunks, 1 << 20);
    expect((await reader.next())!.t).toBe("hello-ok");
    expect(await reader.next()).toMatchObject({ t: "error", code: "PAYLOAD_TOO_LARGE" });
    await raw.close();
    const garbage = await connectQuic({ host: "127.0.0.1", port: gw.quicPort, ca });
    const stream = await garbage.openBidi();
    await stream.write(frameHeader(3));
    await stream.write(Uint8Array.of(0xc1, 0xc1, 0xc1));
    expect(await new FrameReader(stream.chunks, 1 << 20).next()).toMatchObject({ t: "error", code: "BAD_REQUEST" });
    await garbage.close();

    expect(await client.publish("rt/deno-gw", { records: [{ fields: { n: 2 } }] })).toEqual([{ partition: 0, offset: 1 }]);
    await client.close();
    expect(gw.alive()).toBe(true);
  } finally {
    await gw.stop();
  }
}, 90_000);

test("Deno client against the Bun gateway", async () => {
  const gw = await serveUnder("bun");
  try {
    await createStream(gw.url, "rt/bun-gw");
    const child = spawn(DENO, ["run", "-A", "--unstable-net", "test/quic/client-runtime-main.ts", String(gw.quicPort), gw.caFile, "rt/bun-gw"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect({ code, out }).toMatchObject({ code: 0 });
    const result = JSON.parse(out.trim().split("\n").at(-1)!);
    expect(result.version).toBe(1);
    expect(result.retry).toEqual(result.first);
    expect(result.fetched).toEqual([{ runtime: "client", n: 1 }, { runtime: "client", n: 2 }]);
    expect(result.put).toEqual({ stored: 1, existing: 0 });
    expect(result.got).toBe(200_000);
    expect(result.answers).toEqual([{ t: "hello-ok" }, { t: "error", code: "BAD_REQUEST" }]);
    expect(result.after).toEqual([{ partition: 0, offset: 2 }]);
    expect(gw.alive()).toBe(true);
  } finally {
    await gw.stop();
  }
}, 90_000);
