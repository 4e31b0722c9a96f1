// `strata edge run` syncing over real QUIC through a UDP proxy (test/helpers/udp-proxy.ts) that
// drops, delays, reorders, duplicates and black-holes datagrams; and the gateway killed with
// SIGKILL mid-sync and restarted on the same ports and data directory while traffic goes through
// the proxy. After each: every published record is in the gateway exactly once, in per-producer
// order (read back over HTTP), the outbox is empty, and both processes are still running.
import { afterEach, describe, expect, test } from "bun:test";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { UdpProxy } from "../helpers/udp-proxy.ts";
import { cliOk, edgeStatus, endOffset, freePort, recordLines, waitFor } from "./edge-fixtures.ts";
import { drainedExactly, edgeRunUnder, type EdgeProcess, startQuicGateway, type QuicGatewayProcess } from "./quic-gateway-fixture.ts";

const cleanup: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

function dir(prefix: string): string {
  const d = tempDir(prefix);
  cleanup.push(() => removeDir(d));
  return d;
}

async function gateway(dataDir: string, httpPort: number, quicPort: number): Promise<QuicGatewayProcess> {
  const gw = await startQuicGateway({ runtime: "bun", dataDir, httpPort, quicPort });
  cleanup.push(() => gw.kill());
  return gw;
}

async function proxyTo(quicPort: number): Promise<UdpProxy> {
  const proxy = await UdpProxy.start({ targetPort: quicPort });
  cleanup.push(() => proxy.stop());
  return proxy;
}

/** `strata edge run` (no --once: it keeps running) to the proxy's port, HTTP beside it. */
function edgeThrough(dataDir: string, proxy: UdpProxy, gw: QuicGatewayProcess, extra: string[] = []): EdgeProcess {
  const run = edgeRunUnder("bun", ["--data", dataDir, "--gateway", `quic://127.0.0.1:${proxy.port}`, "--fingerprint", gw.fingerprint, "--http", gw.url, ...extra]);
  cleanup.push(() => run.kill());
  return run;
}

async function publish(dataDir: string, edge: string, stream: string, count: number, batch: number, pad: number): Promise<void> {
  await cliOk(["edge", "publish", "--data", dataDir, stream, "--batch", String(batch)], recordLines(edge, 0, count, pad));
}

describe("edge sync over QUIC through a lossy UDP proxy", () => {
  test("7% loss, delay with jitter, reordering and duplicates both ways: drains exactly once, in order", async () => {
    const [httpPort, quicPort] = [await freePort(), await freePort()];
    const gw = await gateway(dir("strata-chaos-gw-"), httpPort, quicPort);
    const proxy = await proxyTo(quicPort);
    proxy.set("both", { drop: 0.07, delayMs: 5, jitterMs: 10, reorder: 0.1, duplicate: 0.02 });
    const [a, b] = [dir("strata-chaos-a-"), dir("strata-chaos-b-")];
    await Promise.all([publish(a, "a", "chaos/lossy", 600, 5, 200), publish(b, "b", "chaos/lossy", 400, 7, 200)]);
    // 64 KiB requests at 128 KiB/s: a few seconds of requests through the impaired path each.
    const runA = edgeThrough(a, proxy, gw, ["--rate-limit", "128K"]);
    const runB = edgeThrough(b, proxy, gw, ["--rate-limit", "128K"]);
    await Promise.all([
      drainedExactly(runA, () => gw, a, "chaos/lossy", { a: 600, b: 400 }, 18_000),
      drainedExactly(runB, () => gw, b, "chaos/lossy", { a: 600, b: 400 }, 18_000),
    ]);
    for (const run of [runA, runB]) {
      expect(run.output()).toContain(`syncing over quic 127.0.0.1:${proxy.port}`);
      expect(run.output()).not.toContain("publishing over http");
    }
    const c = proxy.counters();
    expect(proxy.clients).toBeGreaterThanOrEqual(2);
    for (const d of [c.up, c.down]) {
      expect(d.dropped).toBeGreaterThan(0);
      expect(d.reordered).toBeGreaterThan(0);
      expect(d.forwarded).toBeGreaterThan(10);
      expect(d.overflow).toBe(0);
    }
  }, 25_000);

  test("a black hole of 4 s mid-drain: the edge recovers and finishes without loss or duplicates", async () => {
    const [httpPort, quicPort] = [await freePort(), await freePort()];
    const gw = await gateway(dir("strata-chaos-gw-"), httpPort, quicPort);
    const proxy = await proxyTo(quicPort);
    proxy.set("both", { drop: 0.02, delayMs: 2, jitterMs: 4 });
    const a = dir("strata-chaos-a-");
    const total = 1200;
    await publish(a, "a", "chaos/blackhole", total, 5, 200);
    const run = edgeThrough(a, proxy, gw, ["--rate-limit", "128K"]);
    await waitFor(async () => (await endOffset(gw.url, "chaos/blackhole")) >= 200, 10_000, "part of the drain");
    proxy.blackhole(true);
    const atStart = await endOffset(gw.url, "chaos/blackhole");
    await Bun.sleep(4000);
    const atEnd = await endOffset(gw.url, "chaos/blackhole");
    expect(proxy.counters().up.blackholed).toBeGreaterThan(0);
    proxy.blackhole(false);
    // Nothing crosses a black hole (one request already past the proxy may still land).
    expect(atEnd - atStart).toBeLessThanOrEqual(400);
    expect(atEnd).toBeLessThan(total);
    await drainedExactly(run, () => gw, a, "chaos/blackhole", { a: total }, 18_000);
  }, 30_000);

  test("a black hole longer than the QUIC idle timeout: the connection dies, the edge backs off, reconnects and finishes", async () => {
    const [httpPort, quicPort] = [await freePort(), await freePort()];
    const gw = await gateway(dir("strata-chaos-gw-"), httpPort, quicPort);
    const proxy = await proxyTo(quicPort);
    const a = dir("strata-chaos-a-");
    const total = 900;
    await publish(a, "a", "chaos/long-hole", total, 5, 200);
    const run = edgeThrough(a, proxy, gw, ["--rate-limit", "128K"]);
    await waitFor(async () => (await endOffset(gw.url, "chaos/long-hole")) >= 200, 10_000, "part of the drain");
    proxy.blackhole(true);
    // The edge's QUIC idle timeout is 10 s: the connection is declared dead inside the hole.
    await waitFor(() => /retrying in \d+ ms/.test(run.output()), 14_000, "the edge to notice the dead connection");
    proxy.blackhole(false);
    expect(await endOffset(gw.url, "chaos/long-hole")).toBeLessThan(total);
    await drainedExactly(run, () => gw, a, "chaos/long-hole", { a: total }, 15_000);
    // It came back over QUIC (a new handshake through the proxy) or over the HTTP fallback.
    expect(run.output()).toMatch(/retrying in \d+ ms/);
    expect(proxy.counters().up.blackholed).toBeGreaterThan(0);
  }, 40_000);

  test("the gateway killed with SIGKILL mid-sync behind the proxy, restarted on the same ports and data", async () => {
    const [httpPort, quicPort] = [await freePort(), await freePort()];
    const gwDir = dir("strata-chaos-gw-");
    let gw = await gateway(gwDir, httpPort, quicPort);
    const proxy = await proxyTo(quicPort);
    proxy.set("both", { drop: 0.05, delayMs: 3, jitterMs: 6, reorder: 0.05 });
    const a = dir("strata-chaos-a-");
    const total = 1200;
    await publish(a, "a", "chaos/kill", total, 5, 200);
    const run = edgeThrough(a, proxy, gw, ["--rate-limit", "128K"]);
    await waitFor(async () => (await endOffset(gw.url, "chaos/kill")) >= 200, 10_000, "part of the drain");
    await gw.kill();
    expect((await edgeStatus(a)).outbox_records).toBeGreaterThan(0);
    await Bun.sleep(500);
    gw = await gateway(gwDir, httpPort, quicPort);
    // The edge notices the dead connection at its QUIC idle timeout (10 s): the restarted gateway
    // cannot reset a connection of its predecessor. 40 s covers that plus a lossy reconnect and
    // backoff on a loaded 2-core machine (one run under a full parallel suite needed over 25 s,
    // and one full-suite run did not finish within 40 s, the edge logging nothing after the kill).
    await drainedExactly(run, () => gw, a, "chaos/kill", { a: total }, 70_000);
    expect(proxy.counters().up.forwarded).toBeGreaterThan(0);
  }, 90_000);
});
