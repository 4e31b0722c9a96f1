// Pins over QUIC against real gateway processes: a pin kept current with only a quic:// address
// (stream creation, latest-artefact lookup, manifest and chunks all over QUIC); with both
// addresses the edge measures both and pulls over the faster, and reports it in status; stop()
// during a pin pull returns promptly and leaves neither a torn file nor a temporary one; the
// rate limit holds for pin pulls over QUIC.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { blake3Hex } from "../../core/hashing/blake3.ts";
import { pushArtefact } from "../../edge/artefacts/index.ts";
import { openEdge } from "../../edge/index.ts";
import { writePlainFile } from "../artefacts/client-fixtures.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";
import { cli, edgeStatus, freePort, readStream, recordLines, cliOk, waitFor } from "./edge-fixtures.ts";

const MiB = 1024 * 1024;
let gw: GatewayProcess;
let quicUrl: string;
let fingerprint: string;
let dir: string;

beforeAll(async () => {
  const quicPort = await freePort();
  gw = await startGateway({ args: ["--quic-port", String(quicPort)] });
  await waitFor(() => /SHA-256 fingerprint [0-9a-f]{64}/.test(gw.output()) || /QUIC not served/.test(gw.output()), 15_000, "the QUIC listener");
  const match = /SHA-256 fingerprint ([0-9a-f]{64})/.exec(gw.output());
  if (!match) throw new Error(`the gateway serves no QUIC:\n${gw.output()}`);
  fingerprint = match[1]!;
  quicUrl = `quic://127.0.0.1:${quicPort}`;
  dir = tempDir("strata-edge-quic-pins-");
});

afterAll(async () => {
  await gw?.stop();
  if (gw) removeDir(gw.dataDir);
  if (dir) removeDir(dir);
});

function hashOf(path: string): string {
  return blake3Hex(readFileSync(path));
}

describe("pins over QUIC", () => {
  test("strata edge run --gateway quic:// without --http: records published, pin pulled and updated", async () => {
    const v1 = join(dir, "q-v1.bin");
    const v2 = join(dir, "q-v2.bin");
    writePlainFile(v1, 3 * MiB + 11, 21);
    writePlainFile(v2, 2 * MiB + 3, 22);
    const out = join(dir, "q-model.bin");
    const edgeDir = join(dir, "edge-q");
    await pushArtefact({ gateway: gw.url, file: v1, stream: "qpins/model" });
    // A stream the gateway does not have yet: created over QUIC.
    await cliOk(["edge", "publish", "--data", edgeDir, "qpins/new-stream", "--batch", "5"], recordLines("a", 0, 20, 10));
    const args = ["edge", "run", "--data", edgeDir, "--once", "--gateway", quicUrl, "--fingerprint", fingerprint, "--pin", `qpins/model=${out}`];
    const first = await cli(args).done;
    expect(first.code).toBe(0);
    expect(hashOf(out)).toBe(hashOf(v1));
    expect((await readStream(gw.url, "qpins/new-stream")).length).toBe(20);
    const pushed2 = await pushArtefact({ gateway: gw.url, file: v2, stream: "qpins/model" });
    const second = await cli(args).done;
    expect(second.code).toBe(0);
    expect(hashOf(out)).toBe(hashOf(v2));
    const status = (await edgeStatus(edgeDir)) as unknown as { pins: { artefact: string }[]; transport: { publish: string; bulk: string } };
    expect(status.pins[0]!.artefact).toBe(pushed2.artefact);
    expect(status.transport).toMatchObject({ publish: "quic", bulk: "quic" });
  }, 90_000);

  test("with both addresses the edge measures both and pulls over the faster; status reports it", async () => {
    const file = join(dir, "m.bin");
    writePlainFile(file, 8 * MiB, 31);
    await pushArtefact({ gateway: gw.url, file, stream: "qpins/measured" });
    const out = join(dir, "m-model.bin");
    const edgeDir = join(dir, "edge-m");
    const edge = await openEdge({ dataDir: edgeDir, gateway: { quic: quicUrl, fingerprint, http: gw.url }, maxOutboxBytes: MiB });
    try {
      await edge.pin("qpins/measured", out);
      await edge.run({ once: true });
      expect(hashOf(out)).toBe(hashOf(file));
      const { transport } = await edge.status();
      expect(transport).not.toBeNull();
      const m = transport!.measured;
      expect(m.quic_mbps).toBeGreaterThan(0);
      expect(m.http_mbps).toBeGreaterThan(0);
      expect(m.at).not.toBeNull();
      expect(transport!.bulk).toBe(m.quic_mbps! >= m.http_mbps! ? "quic" : "http");
      expect(transport!.publish).toBe("quic");
    } finally {
      await edge.close();
    }
    const cliStatus = (await edgeStatus(edgeDir)) as unknown as { transport: { bulk: string; measured: { quic_mbps: number; http_mbps: number; at: string } } };
    expect(cliStatus.transport.measured.quic_mbps).toBeGreaterThan(0);
    expect(cliStatus.transport.measured.http_mbps).toBeGreaterThan(0);
    expect(typeof cliStatus.transport.measured.at).toBe("string");
  }, 90_000);

  for (const kind of ["quic", "http"] as const) {
    test(`stop() during a pin pull over ${kind} returns promptly; no torn or temporary file is left`, async () => {
      const file = join(dir, `s-${kind}.bin`);
      writePlainFile(file, 6 * MiB, 41);
      await pushArtefact({ gateway: gw.url, file, stream: `qpins/stop-${kind}` });
      const outDir = tempDir("strata-edge-stop-");
      const out = join(outDir, "model.bin");
      const gateway = kind === "quic" ? { quic: quicUrl, fingerprint } : { http: gw.url };
      // 1 MiB/s: the pull would take about 6 s.
      const edge = await openEdge({ dataDir: join(dir, `edge-s-${kind}`), gateway, maxOutboxBytes: MiB, rateLimitBytesPerSec: MiB });
      try {
        await edge.pin(`qpins/stop-${kind}`, out);
        const running = edge.run();
        await waitFor(() => readdirSync(outDir).some((n) => n.includes(".strata-tmp-")), 10_000, "the pull under way");
        await Bun.sleep(500);
        const started = performance.now();
        await edge.stop();
        await running;
        expect(performance.now() - started).toBeLessThan(1500);
        expect(existsSync(out)).toBe(false);
        expect(readdirSync(outDir)).toEqual([]);
      } finally {
        await edge.close();
        removeDir(outDir);
      }
    }, 60_000);
  }

  test("the rate limit holds for a pin pull over QUIC", async () => {
    const file = join(dir, "r.bin");
    const size = 3 * MiB;
    writePlainFile(file, size, 51);
    await pushArtefact({ gateway: gw.url, file, stream: "qpins/rate" });
    const out = join(dir, "r-model.bin");
    const rate = MiB;
    const edge = await openEdge({ dataDir: join(dir, "edge-r"), gateway: { quic: quicUrl, fingerprint }, maxOutboxBytes: MiB, rateLimitBytesPerSec: rate });
    try {
      await edge.pin("qpins/rate", out);
      const started = performance.now();
      await edge.run({ once: true });
      const seconds = (performance.now() - started) / 1000;
      expect(hashOf(out)).toBe(hashOf(file));
      // The bucket starts empty and keeps a tenth of a second of credit: size / rate within 10%.
      expect(seconds).toBeGreaterThan((size / rate) * 0.9);
    } finally {
      await edge.close();
    }
  }, 60_000);
});
