// Bulk streams used back to back at the gateway's limit (maxBulkStreams at once on one
// connection) from a Deno client against a Deno gateway: each new stream waits for the stream
// credit the last one returns (Deno's createBidirectionalStream would otherwise throw a
// RangeError the moment the credit is briefly short), and every download completes verified.
import { spawn } from "node:child_process";
import { afterAll, expect, test } from "bun:test";
import { encode } from "@msgpack/msgpack";
import { blake3 } from "../../core/hashing/blake3.ts";
import { bytesToHex } from "../../core/util/hex.ts";
import { ROOT, removeDir, tempDir } from "../helpers/gateway.ts";
import { DENO, startQuicGateway } from "../edge/quic-gateway-fixture.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

test("Deno client: maxBulkStreams downloads at a time, back to back, all complete and verified", async () => {
  const dataDir = tempDir("strata-quic-bulk-");
  dirs.push(dataDir);
  const gw = await startQuicGateway({ runtime: "deno", dataDir, httpPort: 0, quicPort: 0, timeoutMs: 60_000 });
  try {
    const datas = [1, 2, 3].map((seed) => new Uint8Array(64 * 1024).map((_, i) => (i * seed * 7 + seed) % 251));
    const chunks = datas.map((data) => [blake3(data), data]);
    const put = await fetch(`${gw.url}/v1/chunks`, { method: "PUT", headers: { "content-type": "application/msgpack" }, body: encode({ chunks }) });
    expect(put.status).toBe(200);
    const rounds = 12;
    const hashes = chunks.map(([hash]) => bytesToHex(hash!)).join(",");
    const child = spawn(DENO, ["run", "-A", "--unstable-net", "test/quic/bulk-streams-main.ts", String(gw.quicPort), gw.caFile, hashes, String(rounds)], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect({ code, out }).toMatchObject({ code: 0 });
    const result = JSON.parse(out.trim().split("\n").at(-1)!);
    expect(result.failures).toEqual([]);
    expect(result.workers).toBe(8);
    expect(result.downloads).toBe(8 * rounds);
    expect(result.bytes).toBe(8 * rounds * 3 * 64 * 1024);
    expect(gw.alive()).toBe(true);
  } finally {
    await gw.stop();
  }
}, 120_000);
