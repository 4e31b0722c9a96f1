// Pins against a real gateway: `strata edge run --pin STREAM=PATH` keeps the latest artefact at
// PATH while new ones are pushed, and PATH is never observed torn (polled throughout: always
// absent or a complete, hash-verified version); the library's pin callback reports each update,
// and an update downloads only the chunks that changed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, openSync, readFileSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import { blake3Hex } from "../../core/hashing/blake3.ts";
import { pushArtefact } from "../../edge/artefacts/index.ts";
import { openEdge, type PinUpdate } from "../../edge/index.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";
import { writePlainFile } from "../artefacts/client-fixtures.ts";
import { cli, edgeStatus, waitFor } from "./edge-fixtures.ts";

const MiB = 1024 * 1024;
let gw: GatewayProcess;
let dir: string;

beforeAll(async () => {
  gw = await startGateway();
  dir = tempDir("strata-edge-pins-");
});

afterAll(async () => {
  await gw?.stop();
  if (gw) removeDir(gw.dataDir);
  if (dir) removeDir(dir);
});

/** A copy of `from` with `length` bytes at `at` overwritten. */
function variant(from: string, to: string, at: number, length: number, fill: number): void {
  copyFileSync(from, to);
  const fd = openSync(to, "r+");
  writeSync(fd, new Uint8Array(length).fill(fill), 0, length, at);
  closeSync(fd);
}

describe("pins", () => {
  test("strata edge run --pin keeps PATH at the latest artefact and PATH is never torn", async () => {
    const files = [join(dir, "v1.bin"), join(dir, "v2.bin"), join(dir, "v3.bin")];
    writePlainFile(files[0]!, 3 * MiB + 17, 7);
    variant(files[0]!, files[1]!, MiB, 64 * 1024, 0xab);
    writePlainFile(files[2]!, 2 * MiB + 5, 8);
    const hashes = files.map((f) => blake3Hex(readFileSync(f)));
    const out = join(dir, "model.bin");
    const edgeDir = join(dir, "edge-cli");

    const first = await pushArtefact({ gateway: gw.url, file: files[0]!, stream: "models/cli" });
    const run = cli(["edge", "run", "--data", edgeDir, "--gateway", gw.url, "--pin", `models/cli=${out}`]);
    const observed = new Map<string, number>();
    const torn: string[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        let bytes: Uint8Array | null = null;
        try {
          bytes = readFileSync(out);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
        }
        const key = bytes === null ? "absent" : blake3Hex(bytes);
        if (key !== "absent" && !hashes.includes(key)) torn.push(`${bytes!.length} bytes, ${key}`);
        observed.set(key, (observed.get(key) ?? 0) + 1);
        await Bun.sleep(1);
      }
    })();
    try {
      const holds = (k: number) => () => existsSync(out) && blake3Hex(readFileSync(out)) === hashes[k];
      await waitFor(holds(0), 20_000, "version 1 at PATH");
      const second = await pushArtefact({ gateway: gw.url, file: files[1]!, stream: "models/cli" });
      await waitFor(holds(1), 20_000, "version 2 at PATH");
      const third = await pushArtefact({ gateway: gw.url, file: files[2]!, stream: "models/cli" });
      await waitFor(holds(2), 20_000, "version 3 at PATH");
      // The poller's read in flight may predate the last rename: let it see version 3 too.
      await waitFor(() => (observed.get(hashes[2]!) ?? 0) > 0, 5_000, "the poller seeing version 3");
      polling = false;
      await poller;
      expect(torn).toEqual([]);
      for (const h of hashes) expect(observed.get(h) ?? 0).toBeGreaterThan(0);
      const status = await edgeStatus(edgeDir);
      expect(status.pins).toEqual([{ stream: "models/cli", path: out, artefact: third.artefact, updated: expect.any(String) }]);
      expect(first.artefact).not.toBe(second.artefact);
    } finally {
      polling = false;
      await poller.catch(() => undefined);
      run.child.kill("SIGTERM");
    }
    const r = await run.done;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`pinned models/cli → ${out}`);
  }, 90_000);

  test("the library's pin callback reports each update; an update moves only changed chunks", async () => {
    const v1 = join(dir, "lib-v1.bin");
    const v2 = join(dir, "lib-v2.bin");
    writePlainFile(v1, 4 * MiB, 11);
    variant(v1, v2, 2 * MiB, 32 * 1024, 0x5a);
    const out = join(dir, "lib-model.bin");
    const edge = await openEdge({ dataDir: join(dir, "edge-lib"), gateway: { http: gw.url }, maxOutboxBytes: MiB, limits: { pinPollMs: 100 } });
    const updates: PinUpdate[] = [];
    try {
      await edge.pin("models/lib", out, (u) => {
        updates.push(u);
      });
      const running = edge.run();
      const pushed1 = await pushArtefact({ gateway: gw.url, file: v1, stream: "models/lib" });
      await waitFor(() => updates.length === 1, 20_000, "first update");
      const pushed2 = await pushArtefact({ gateway: gw.url, file: v2, stream: "models/lib" });
      await waitFor(() => updates.length === 2, 20_000, "second update");
      await edge.stop();
      await running;
      expect(updates.map((u) => u.artefact)).toEqual([pushed1.artefact, pushed2.artefact]);
      expect(updates[0]).toMatchObject({ stream: "models/lib", path: out, size: 4 * MiB });
      expect(updates[0]!.bytesTransferred).toBe(4 * MiB);
      expect(updates[1]!.bytesTransferred).toBeLessThan(MiB / 2);
      expect(blake3Hex(readFileSync(out))).toBe(blake3Hex(readFileSync(v2)));
      const status = await edge.status();
      expect(status.pins[0]).toMatchObject({ stream: "models/lib", path: out, artefact: pushed2.artefact });
      expect(status.lastSync).not.toBeNull();
    } finally {
      await edge.close();
    }
  }, 60_000);
});
