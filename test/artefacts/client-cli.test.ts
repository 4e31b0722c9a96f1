// `strata push` / `strata pull` as child processes against a gateway process: the --json
// summary, resuming after SIGKILL mid-transfer (only what is missing moves the second time),
// and OUT never observed torn.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { blake3Hex } from "../../core/hashing/blake3.ts";
import { missingChunks } from "../../edge/artefacts/artefact-api.ts";
import { GatewayHttp } from "../../edge/artefacts/gateway-http.ts";
import { ChunkCache, DEFAULT_CACHE_MAX_BYTES } from "../../edge/artefacts/index.ts";
import { type GatewayProcess, removeDir, ROOT, startGateway, tempDir } from "../helpers/gateway.ts";
import { chunksOf, fileHash, writePlainFile } from "./client-fixtures.ts";

const MiB = 1024 * 1024;
const SUMMARY_KEYS = ["artefact", "bytes_total", "bytes_transferred", "chunks_total", "chunks_transferred", "seconds"];
/** What push --json adds: whether it published a version (not when the latest already was this artefact) and where it is. */
const PUSH_ONLY_KEYS = ["published", "partition", "offset"];

let gw: GatewayProcess;
let dir: string;

beforeAll(async () => {
  gw = await startGateway();
  dir = tempDir("strata-cli-artefacts-");
  writePlainFile(join(dir, "a.bin"), 8 * MiB + 777, 21);
  writePlainFile(join(dir, "b.bin"), 6 * MiB + 3, 22);
  writePlainFile(join(dir, "small.bin"), 2 * MiB, 23);
});

afterAll(async () => {
  await gw?.stop();
  if (gw) removeDir(gw.dataDir);
  if (dir) removeDir(dir);
});

interface Run {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function cli(args: string[]): Run {
  const child = spawn(process.execPath, [join(ROOT, "cli/main.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, STRATA_GATEWAY: gw.url },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

async function summaryOf(run: Run): Promise<Record<string, number | string>> {
  const r = await run.done;
  if (r.code !== 0) throw new Error(`CLI exited ${r.code} ${r.signal}: ${r.stderr}`);
  const lines = r.stdout.trim().split("\n");
  expect(lines.length).toBe(1);
  const summary = JSON.parse(lines[0]!) as Record<string, number | string>;
  expect(Object.keys(summary).filter((k) => !PUSH_ONLY_KEYS.includes(k)).sort()).toEqual([...SUMMARY_KEYS].sort());
  return summary;
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/** Bytes of `file`'s chunks the gateway holds. */
async function presentBytes(file: string): Promise<number> {
  const chunks = await chunksOf(file);
  const missingHex = new Set((await missingChunks(new GatewayHttp(gw.url, { requestTimeoutMs: 10_000, attempts: 1 }), chunks.map((c) => c.hash))).map(hex));
  return chunks.filter((c) => !missingHex.has(hex(c.hash))).reduce((n, c) => n + c.length, 0);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

function cachedBytes(cacheDir: string): number {
  if (!existsSync(cacheDir)) return 0;
  // Chunks the pack indexes list (a write in flight when the pull was killed is not one).
  return ChunkCache.open(cacheDir, DEFAULT_CACHE_MAX_BYTES).stats().chunkBytes;
}

describe("strata push / pull", () => {
  test("--json prints exactly one summary object; a second push moves nothing", async () => {
    const file = join(dir, "small.bin");
    const first = await summaryOf(cli(["push", file, "--stream", "cli/small", "--json"]));
    expect(first).toMatchObject({ bytes_total: 2 * MiB, bytes_transferred: 2 * MiB });
    const second = await summaryOf(cli(["push", file, "--stream", "cli/small", "--json"]));
    expect(second).toMatchObject({ artefact: first.artefact, bytes_transferred: 0, chunks_transferred: 0 });
    const out = join(dir, "small.out");
    const pulled = await summaryOf(cli(["pull", "cli/small", out, "--cache", join(dir, "cache-small"), "--json"]));
    expect(pulled).toMatchObject({ artefact: first.artefact, bytes_total: 2 * MiB, bytes_transferred: 2 * MiB, chunks_total: first.chunks_total });
    expect(fileHash(out)).toBe(fileHash(file));
    const human = await cli(["pull", String(first.artefact), join(dir, "small.out2"), "--cache", join(dir, "cache-small")]).done;
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("received 0 B in 0 of");
  }, 60_000);

  test("a push killed mid-transfer resumes: the rerun sends only what the gateway lacks", async () => {
    const file = join(dir, "a.bin");
    const total = statSync(file).size;
    const run = cli(["push", file, "--stream", "cli/resume", "--limit-rate", "2M", "--json"]);
    await waitFor(async () => (await presentBytes(file)) >= total / 4, 30_000, "a quarter of the chunks on the gateway");
    run.child.kill("SIGKILL");
    expect((await run.done).signal).toBe("SIGKILL");
    await Bun.sleep(200); // a request the gateway had in full may still land
    const present = await presentBytes(file);
    expect(present).toBeGreaterThan(0);
    expect(present).toBeLessThan(total);
    const resumed = await summaryOf(cli(["push", file, "--stream", "cli/resume", "--json"]));
    expect(resumed.bytes_total).toBe(total);
    expect(resumed.bytes_transferred).toBe(total - present);
    const out = join(dir, "a.out");
    await summaryOf(cli(["pull", "cli/resume", out, "--cache", join(dir, "cache-a"), "--json"]));
    expect(fileHash(out)).toBe(fileHash(file));
  }, 120_000);

  test("a pull killed mid-transfer resumes from the chunk cache and leaves no torn OUT", async () => {
    const file = join(dir, "a.bin");
    const total = statSync(file).size;
    const cache = join(dir, "cache-resume");
    const out = join(dir, "a.resumed");
    const run = cli(["pull", "cli/resume", out, "--cache", cache, "--limit-rate", "2M", "--json"]);
    await waitFor(() => cachedBytes(cache) >= total / 4, 30_000, "a quarter of the chunks in the cache");
    run.child.kill("SIGKILL");
    expect((await run.done).signal).toBe("SIGKILL");
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).some((n) => n.startsWith(".a.resumed.strata-tmp-"))).toBe(true);
    const cached = cachedBytes(cache);
    expect(cached).toBeLessThan(total);
    const resumed = await summaryOf(cli(["pull", "cli/resume", out, "--cache", cache, "--json"]));
    expect(resumed.bytes_transferred).toBe(total - cached);
    expect(fileHash(out)).toBe(fileHash(file));
    // The dead pull's temporary file was swept.
    expect(readdirSync(dir).filter((n) => n.includes(".strata-tmp-"))).toEqual([]);
  }, 120_000);

  test("OUT is only ever observed whole: the old content or the new, never a mix", async () => {
    const b = join(dir, "b.bin");
    await summaryOf(cli(["push", b, "--stream", "cli/torn", "--json"]));
    const out = join(dir, "torn.out");
    const fresh = join(dir, "torn.fresh");
    copyFileSync(join(dir, "small.bin"), out);
    const oldHash = fileHash(out);
    const newHash = fileHash(b);
    const run = cli(["pull", "cli/torn", out, "--cache", join(dir, "cache-torn"), "--limit-rate", "6M", "--json"]);
    const runFresh = cli(["pull", "cli/torn", fresh, "--cache", join(dir, "cache-torn-fresh"), "--limit-rate", "6M", "--json"]);
    let exited = 0;
    void run.done.then(() => exited++);
    void runFresh.done.then(() => exited++);
    const seen = new Map<string, number>();
    while (exited < 2) {
      const h = blake3Hex(readFileSync(out));
      seen.set(h, (seen.get(h) ?? 0) + 1);
      if (existsSync(fresh)) {
        let bytes: Uint8Array | null = null;
        try {
          bytes = readFileSync(fresh);
        } catch {
          // renamed in between existsSync and the read: fine
        }
        if (bytes) {
          const f = blake3Hex(bytes);
          seen.set(f, (seen.get(f) ?? 0) + 1);
        }
      }
      await Bun.sleep(5);
    }
    await summaryOf(run);
    await summaryOf(runFresh);
    expect([...seen.keys()].every((h) => h === oldHash || h === newHash)).toBe(true);
    expect(seen.get(oldHash)).toBeGreaterThan(0);
    expect(fileHash(out)).toBe(newHash);
    expect(fileHash(fresh)).toBe(newHash);
  }, 120_000);
});
