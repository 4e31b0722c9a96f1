// `strata hash` and `strata chunks`, run as real processes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blake3Hex } from "../../core/hashing/blake3.ts";
import { chunk } from "../../core/chunking/chunking.ts";
import { ensureB3sum } from "../core/helpers/b3sum.ts";
import { randomBytes } from "../core/helpers/random.ts";

const main = join(import.meta.dir, "..", "..", "cli", "main.ts");
let dir = "";

function strata(args: string[], input?: Uint8Array) {
  return spawnSync(process.execPath, [main, ...args], { cwd: dir, input, encoding: "utf8", maxBuffer: 64 << 20 });
}

beforeAll(() => {
  ensureB3sum();
  dir = mkdtempSync(join(tmpdir(), "strata-cli-"));
  writeFileSync(join(dir, "empty"), new Uint8Array(0));
  writeFileSync(join(dir, "small.bin"), randomBytes(1025, 1));
  writeFileSync(join(dir, "big.bin"), randomBytes((5 << 20) + 3, 2));
  writeFileSync(join(dir, "back\\slash"), randomBytes(10, 3));
  writeFileSync(join(dir, "new\nline"), randomBytes(10, 4));
  mkdirSync(join(dir, "sub"));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("strata hash", () => {
  test("prints exactly what b3sum prints, escapes included", () => {
    const files = ["empty", "small.bin", "big.bin", "back\\slash", "new\nline"];
    const ours = strata(["hash", ...files]);
    const theirs = spawnSync("b3sum", files, { cwd: dir, encoding: "utf8" });
    expect(ours.status).toBe(0);
    expect(ours.stdout).toBe(theirs.stdout);
  });

  test("stdin via - and no arguments, --length and --no-names", () => {
    const input = randomBytes(70_000, 5);
    const theirs = spawnSync("b3sum", ["--length", "100", "--no-names"], { input, encoding: "utf8" }).stdout;
    expect(strata(["hash", "-", "--length", "100", "--no-names"], input).stdout).toBe(theirs);
    expect(strata(["hash"], input).stdout).toBe(`${blake3Hex(input)}  -\n`);
  });

  test("missing files and directories: an error line, the others still hashed, exit 1", () => {
    const r = strata(["hash", "nope", "small.bin", "sub"]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(spawnSync("b3sum", ["small.bin"], { cwd: dir, encoding: "utf8" }).stdout);
    expect(r.stderr).toContain("nope: No such file or directory");
    expect(r.stderr).toContain("sub:");
  });

  test("bad --length is a usage error", () => {
    expect(strata(["hash", "--length", "x", "small.bin"]).status).toBe(2);
  });
});

describe("strata chunks", () => {
  test("--json lists the same chunks as the library", () => {
    const r = strata(["chunks", "big.bin", "--json", "--min", "4K", "--avg", "16K", "--max", "64K"]);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { size: number; count: number; chunks: { offset: number; length: number; hash: string }[] };
    const data = randomBytes((5 << 20) + 3, 2);
    const expected = chunk(data, { minSize: 4096, avgSize: 16384, maxSize: 65536 });
    expect(out.size).toBe(data.length);
    expect(out.count).toBe(expected.length);
    expect(out.chunks).toEqual(expected.map((c) => ({ offset: c.offset, length: c.length, hash: blake3Hex(data.subarray(c.offset, c.offset + c.length)) })));
  });

  test("plain output and bad sizes", () => {
    const r = strata(["chunks", "small.bin"]);
    expect(r.stdout).toBe(`0 1025 ${blake3Hex(randomBytes(1025, 1))}\n`);
    const bad = strata(["chunks", "small.bin", "--min", "0"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("BAD_REQUEST");
    expect(strata(["chunks", "small.bin", "--avg", "lots"]).status).toBe(2);
  });
});
