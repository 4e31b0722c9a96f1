// The gateway-wide egress limit of artefact downloads (`strata serve --egress-limit`): a real
// gateway process started with the flag sends an artefact (GET /v1/artefacts/{id}) and its chunk
// frames (a pull) no faster than the limit, byte-identical; two downloads share the one limit.
// Time enters only as a lower bound (bytes / rate, minus the burst, with slack): never a flake.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { blake3Hex } from "../../core/hashing/blake3.ts";
import { pullArtefact, pushArtefact } from "../../edge/artefacts/index.ts";
import { writePlainFile } from "../artefacts/client-fixtures.ts";
import { cli } from "../edge/edge-fixtures.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

const RATE = 1_000_000; // --egress-limit 1MB/s
const SIZE = 1_500_000;
/** The bucket's burst (100 ms of the rate) and timer slack: the bound is generous on purpose. */
const SLACK_SECONDS = 0.1 + 0.25;

let gateway: GatewayProcess;
let dir: string;
let file: string;
let artefact: string;

beforeAll(async () => {
  gateway = await startGateway({ args: ["--egress-limit", "1MB/s"] });
  dir = tempDir("strata-egress-");
  file = join(dir, "model.bin");
  writePlainFile(file, SIZE, 5);
  artefact = (await pushArtefact({ gateway: gateway.url, file, stream: "models/egress" })).artefact;
});

afterAll(async () => {
  await gateway?.stop();
  if (gateway) removeDir(gateway.dataDir);
  if (dir) removeDir(dir);
});

const floorSeconds = (bytes: number) => bytes / RATE - SLACK_SECONDS;

describe("egress limit", () => {
  test("an artefact read takes at least bytes / limit and is byte-identical", async () => {
    const started = performance.now();
    const body = new Uint8Array(await (await fetch(`${gateway.url}/v1/artefacts/${artefact}`)).arrayBuffer());
    const seconds = (performance.now() - started) / 1000;
    expect(blake3Hex(body)).toBe(blake3Hex(new Uint8Array(readFileSync(file))));
    expect(seconds).toBeGreaterThanOrEqual(floorSeconds(SIZE));
  }, 60_000);

  test("two pulls (chunk frames) at once share the one limit", async () => {
    const started = performance.now();
    const pulls = await Promise.all(
      [0, 1].map((i) => pullArtefact({ gateway: gateway.url, source: "models/egress", out: join(dir, `out-${i}.bin`), cacheDir: join(dir, `cache-${i}`) })),
    );
    const seconds = (performance.now() - started) / 1000;
    for (const p of pulls) expect(blake3Hex(new Uint8Array(readFileSync(p.out)))).toBe(blake3Hex(new Uint8Array(readFileSync(file))));
    expect(pulls.reduce((n, p) => n + p.bytesTransferred, 0)).toBe(2 * SIZE);
    expect(seconds).toBeGreaterThanOrEqual(floorSeconds(2 * SIZE));
  }, 60_000);

  test("a malformed --egress-limit stops start-up naming the flag", async () => {
    const bad = await cli(["serve", "--port", "0", "--data", join(dir, "bad"), "--egress-limit", "fast"]).done;
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("--egress-limit");
  }, 60_000);
});
