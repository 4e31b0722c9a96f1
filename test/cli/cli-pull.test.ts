// `strata push` / `strata pull` as real processes against a real gateway: the pushed file's name
// travels in the record, pull writes into a directory under that name, creates missing parent
// directories, writes to stdout with `-`; the progress line counts bytes sent, with rate and ETA.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { blake3Hex } from "../../core/hashing/blake3.ts";
import { fileHash, writePlainFile } from "../artefacts/client-fixtures.ts";
import { cli } from "../edge/edge-fixtures.ts";
import { type GatewayProcess, removeDir, ROOT, startGateway, tempDir } from "../helpers/gateway.ts";

const MiB = 1024 * 1024;

let gateway: GatewayProcess;
let dir: string;
let model: string;

beforeAll(async () => {
  gateway = await startGateway();
  dir = tempDir("strata-cli-pull-");
  model = join(dir, "model.bin");
  writePlainFile(model, 3 * MiB + 17, 31);
});

afterAll(async () => {
  await gateway?.stop();
  if (gateway) removeDir(gateway.dataDir);
  if (dir) removeDir(dir);
});

async function push(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return cli(["push", ...args, "--gateway", gateway.url]).done;
}

async function pull(args: string[], cache = join(dir, "cache")): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return cli(["pull", ...args, "--cache", cache, "--gateway", gateway.url]).done;
}

describe("strata push / pull", () => {
  test("push shows bytes sent of those the gateway lacks, the rate and the time left", async () => {
    const first = await push([model, "--stream", "pull/model", "--progress"]);
    expect(first.code).toBe(0);
    const last = first.stderr.trim().split("\n").at(-1)!;
    expect(last).toMatch(/^push done .*\[#{24}\] 100% 3\.0 MiB\/3\.0 MiB sent  \S+ \S+\/s  ETA 0:00$/);
    const again = await push([model, "--stream", "pull/model", "--progress"]);
    expect(again.stderr.trim().split("\n").at(-1)).toMatch(/100% 0 B\/0 B sent/);
    expect(again.stdout).toContain("nothing published (--force publishes it again)");
    expect((await push([model, "--stream", "pull/model", "--quiet"])).stdout).toBe("");
  }, 60_000);

  test("pull into a directory writes the file under the name it was pushed with", async () => {
    const into = join(dir, "existing");
    mkdirSync(into);
    const r = await pull(["pull/model", into]);
    expect(r.code).toBe(0);
    expect(readdirSync(into)).toEqual(["model.bin"]);
    expect(fileHash(join(into, "model.bin"))).toBe(fileHash(model));
    expect(r.stdout).toContain(join(into, "model.bin"));
    // A path ending in "/" is a directory too, created with its parents.
    const fresh = join(dir, "new", "nested", "dir");
    expect((await pull(["pull/model", `${fresh}/`])).code).toBe(0);
    expect(fileHash(join(fresh, "model.bin"))).toBe(fileHash(model));
  }, 60_000);

  test("pull creates missing parent directories of OUT", async () => {
    const out = join(dir, "a", "b", "c", "weights.bin");
    const r = await pull(["pull/model", out, "--json"]);
    expect(r.code).toBe(0);
    expect(fileHash(out)).toBe(fileHash(model));
  }, 60_000);

  test("pull - writes the artefact to stdout, the summary to stderr", async () => {
    const r = spawnSync(process.execPath, [join(ROOT, "cli/main.ts"), "pull", "pull/model", "-", "--cache", join(dir, "cache-stdout"), "--gateway", gateway.url], { maxBuffer: 64 * MiB });
    expect(r.status).toBe(0);
    expect(blake3Hex(new Uint8Array(r.stdout))).toBe(fileHash(model));
    expect(r.stdout.length).toBe(3 * MiB + 17);
    expect(r.stderr.toString()).toContain("into standard output");
    expect(existsSync(join(process.cwd(), "-"))).toBe(false);
  }, 60_000);

  test("by id, or without a recorded name, a directory gets the artefact id as the file name; --fields may name it", async () => {
    const pushed = await push([model, "--stream", "pull/named", "--fields", '{"file_name": "custom.safetensors"}', "--json"]);
    expect(pushed.code).toBe(0);
    const id = (JSON.parse(pushed.stdout) as { artefact: string }).artefact;
    const named = join(dir, "named");
    expect((await pull(["pull/named", `${named}/`])).code).toBe(0);
    expect(readdirSync(named)).toEqual(["custom.safetensors"]);
    const byId = join(dir, "by-id");
    expect((await pull([id, `${byId}/`, "--progress"])).stderr).toMatch(/pull done .*100% .*received/);
    expect(readdirSync(byId)).toEqual([id]);
  }, 60_000);

  test("push --no-create refuses a missing stream", async () => {
    const r = await push([model, "--stream", "pull/absent", "--no-create"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("STREAM_NOT_FOUND");
  });
});
