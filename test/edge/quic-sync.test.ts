// `strata edge run --gateway quic://…` against a gateway process serving QUIC: publishes go over
// QUIC (streams created over HTTP), survive the gateway being killed with SIGKILL mid-drain and
// restarted (exactly once, in order), and fall back to HTTP when QUIC does not answer.
import { afterEach, describe, expect, test } from "bun:test";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";
import { cli, cliOk, edgeStatus, endOffset, exactlyOnceInOrder, freePort, readStream, recordLines, waitFor } from "./edge-fixtures.ts";

const cleanup: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

function dir(prefix: string): string {
  const d = tempDir(prefix);
  cleanup.push(() => removeDir(d));
  return d;
}

interface QuicGatewayProcess {
  readonly gw: GatewayProcess;
  readonly fingerprint: string;
}

async function gatewayWithQuic(httpPort: number, quicPort: number, dataDir: string): Promise<QuicGatewayProcess> {
  const gw = await startGateway({ dataDir, args: ["--port", String(httpPort), "--quic-port", String(quicPort)] });
  cleanup.push(() => gw.kill());
  await waitFor(() => /SHA-256 fingerprint [0-9a-f]{64}/.test(gw.output()) || /QUIC not served/.test(gw.output()), 15_000, "the QUIC listener");
  const match = /SHA-256 fingerprint ([0-9a-f]{64})/.exec(gw.output());
  if (!match) throw new Error(`the gateway serves no QUIC:\n${gw.output()}`);
  return { gw, fingerprint: match[1]! };
}

function edgeRun(dataDir: string, args: string[]) {
  const run = cli(["edge", "run", "--data", dataDir, "--once", ...args]);
  cleanup.push(() => {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill("SIGKILL");
  });
  return run;
}

async function drained(run: ReturnType<typeof edgeRun>): Promise<string> {
  const r = await run.done;
  if (r.code !== 0) throw new Error(`edge run exited ${r.code} ${r.signal}:\n${r.stderr}`);
  return r.stderr;
}

describe("edge sync over QUIC", () => {
  test("drains over QUIC; the gateway killed with SIGKILL mid-drain and restarted: exactly once, in order", async () => {
    const [httpPort, quicPort] = [await freePort(), await freePort()];
    const gwDir = dir("strata-edge-quic-gw-");
    let { gw, fingerprint } = await gatewayWithQuic(httpPort, quicPort, gwDir);
    const a = dir("strata-edge-quic-a-");
    const total = 1500;
    await cliOk(["edge", "publish", "--data", a, "quic/samples", "--batch", "5"], recordLines("a", 0, total, 400));
    const run = edgeRun(a, ["--gateway", `quic://127.0.0.1:${quicPort}`, "--fingerprint", fingerprint, "--http", gw.url, "--rate-limit", "256K"]);
    await waitFor(async () => (await endOffset(gw.url, "quic/samples")) >= 300, 20_000, "part of the drain");
    await gw.kill();
    expect((await edgeStatus(a)).outbox_records).toBeGreaterThan(0);
    await Bun.sleep(500);
    ({ gw } = await gatewayWithQuic(httpPort, quicPort, gwDir));
    const stderr = await drained(run);
    expect(stderr).toContain(`syncing over quic 127.0.0.1:${quicPort}`);
    exactlyOnceInOrder(await readStream(gw.url, "quic/samples"), { a: total });
    expect((await edgeStatus(a)).outbox_records).toBe(0);
  }, 90_000);

  test("falls back to HTTP when QUIC does not answer", async () => {
    const { gw, fingerprint } = await gatewayWithQuic(await freePort(), await freePort(), dir("strata-edge-quic-gw-"));
    const a = dir("strata-edge-quic-a-");
    await cliOk(["edge", "publish", "--data", a, "quic/fallback", "--batch", "10"], recordLines("a", 0, 50, 10));
    const deadPort = await freePort();
    const stderr = await drained(edgeRun(a, ["--gateway", `quic://127.0.0.1:${deadPort}`, "--fingerprint", fingerprint, "--http", gw.url]));
    expect(stderr).toContain("publishing over http");
    exactlyOnceInOrder(await readStream(gw.url, "quic/fallback"), { a: 50 });
  }, 60_000);
});
