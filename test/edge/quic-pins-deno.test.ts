// A pin kept over QUIC alone by an edge node under Deno (Deno.QuicEndpoint, --ca) against a
// gateway under Bun: lookup, manifest and chunks over QUIC, no --http given.
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { blake3Hex } from "../../core/hashing/blake3.ts";
import { pushArtefact } from "../../edge/artefacts/index.ts";
import { writePlainFile } from "../artefacts/client-fixtures.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { edgeStatus, freePort } from "./edge-fixtures.ts";
import { edgeRunUnder, startQuicGateway } from "./quic-gateway-fixture.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

test("edge node under Deno: a pin pulled over QUIC only", async () => {
  const dir = tempDir("strata-edge-deno-pin-");
  cleanup.push(() => removeDir(dir));
  const gw = await startQuicGateway({ runtime: "bun", dataDir: join(dir, "gw"), httpPort: await freePort(), quicPort: await freePort() });
  cleanup.push(() => gw.kill());
  const file = join(dir, "v1.bin");
  writePlainFile(file, 2 * 1024 * 1024 + 9, 61);
  const pushed = await pushArtefact({ gateway: gw.url, file, stream: "denopin/model" });
  const out = join(dir, "model.bin");
  const edgeDir = join(dir, "edge");
  const run = edgeRunUnder("deno", ["--data", edgeDir, "--gateway", `quic://127.0.0.1:${gw.quicPort}`, "--ca", gw.caFile, "--pin", `denopin/model=${out}`, "--once"]);
  cleanup.push(() => run.kill());
  const result = await run.done;
  if (result.code !== 0) throw new Error(`edge run (deno) exited ${result.code} ${result.signal}:\n${result.output}`);
  expect(blake3Hex(readFileSync(out))).toBe(blake3Hex(readFileSync(file)));
  const status = (await edgeStatus(edgeDir)) as unknown as { pins: { artefact: string }[]; transport: { publish: string; bulk: string } };
  expect(status.pins[0]!.artefact).toBe(pushed.artefact);
  expect(status.transport).toMatchObject({ publish: "quic", bulk: "quic" });
}, 90_000);
