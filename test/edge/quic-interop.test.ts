// Interop over real QUIC between processes of different runtimes: the gateway under Bun with an
// edge node under Deno (`deno run --unstable-net … edge run --ca FILE`: Deno's QUIC API does not
// expose the peer certificate, so it authenticates by CA, not fingerprint), and the gateway
// under Deno (Deno.QuicEndpoint) with an edge node under Bun (node:quic). Each drains its outbox
// over QUIC exactly once, in order.
import { afterEach, expect, test } from "bun:test";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { cliOk, edgeStatus, exactlyOnceInOrder, freePort, readStream, recordLines } from "./edge-fixtures.ts";
import { UdpProxy } from "../helpers/udp-proxy.ts";
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

async function interop(gatewayRuntime: "bun" | "deno", edgeRuntime: "bun" | "deno", auth: "ca" | "fingerprint"): Promise<void> {
  const gw = await startQuicGateway({ runtime: gatewayRuntime, dataDir: dir("strata-interop-gw-"), httpPort: await freePort(), quicPort: await freePort(), timeoutMs: 60_000 });
  cleanup.push(() => gw.kill());
  const a = dir("strata-interop-edge-");
  const stream = `interop/${edgeRuntime}-to-${gatewayRuntime}`;
  await cliOk(["edge", "publish", "--data", a, stream, "--batch", "7"], recordLines("a", 0, 300, 100));
  const authArgs = auth === "ca" ? ["--ca", gw.caFile] : ["--fingerprint", gw.fingerprint];
  const run = edgeRunUnder(edgeRuntime, ["--data", a, "--gateway", `quic://127.0.0.1:${gw.quicPort}`, ...authArgs, "--http", gw.url, "--once", "--verbose"]);
  cleanup.push(() => run.kill());
  const result = await run.done;
  if (result.code !== 0) throw new Error(`edge run (${edgeRuntime}) exited ${result.code} ${result.signal}:\n${result.output}`);
  expect(result.output).toContain(`syncing over quic 127.0.0.1:${gw.quicPort}`);
  // Every publish went over QUIC: no fallback to HTTP.
  expect(result.output).not.toContain("publishing over http");
  expect(result.output).toMatch(/acked \d+ records of interop/);
  exactlyOnceInOrder(await readStream(gw.url, stream), { a: 300 });
  expect((await edgeStatus(a)).outbox_records).toBe(0);
  expect(gw.alive()).toBe(true);
}

test("gateway under Bun, edge node under Deno (--ca)", () => interop("bun", "deno", "ca"), 90_000);

test("gateway under Deno, edge node under Bun (--fingerprint)", () => interop("deno", "bun", "fingerprint"), 90_000);

test("gateway under Deno, edge node under Bun (--ca)", () => interop("deno", "bun", "ca"), 90_000);

test("edge node under Deno through a lossy UDP proxy to the gateway under Bun", async () => {
  const gw = await startQuicGateway({ runtime: "bun", dataDir: dir("strata-interop-gw-"), httpPort: await freePort(), quicPort: await freePort() });
  cleanup.push(() => gw.kill());
  const proxy = await UdpProxy.start({ targetPort: gw.quicPort, up: { drop: 0.05, delayMs: 3, jitterMs: 6, reorder: 0.05 }, down: { drop: 0.05, delayMs: 3, jitterMs: 6, reorder: 0.05 } });
  cleanup.push(() => proxy.stop());
  const a = dir("strata-interop-edge-");
  await cliOk(["edge", "publish", "--data", a, "interop/deno-lossy", "--batch", "5"], recordLines("a", 0, 600, 200));
  const run = edgeRunUnder("deno", ["--data", a, "--gateway", `quic://127.0.0.1:${proxy.port}`, "--ca", gw.caFile, "--http", gw.url, "--rate-limit", "128K"]);
  cleanup.push(() => run.kill());
  await drainedExactly(run, () => gw, a, "interop/deno-lossy", { a: 600 }, 20_000);
  expect(run.output()).toContain(`syncing over quic 127.0.0.1:${proxy.port}`);
  expect(run.output()).not.toContain("publishing over http");
  expect(proxy.counters().up.dropped + proxy.counters().down.dropped).toBeGreaterThan(0);
}, 40_000);
