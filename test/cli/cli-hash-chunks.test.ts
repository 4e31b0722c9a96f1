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

function strata(args: string[], input?: Uint8Array | string) {
  return spawnSync(process.execPath, [main, ...args], { cwd: dir, input, encoding: "utf8", maxBuffer: 64 << 20 });
}

function b3sum(args: string[], input?: Uint8Array | string) {
  return spawnSync("b3sum", args, { cwd: dir, input, encoding: "utf8", maxBuffer: 64 << 20 });
}

/** Same stdout and exit status as b3sum, and each of its stderr messages with our name in front. */
function expectSameAsB3sum(args: string[], input?: Uint8Array | string): { stdout: string; stderr: string; status: number | null } {
  const ours = strata(["hash", ...args], input);
  const theirs = b3sum(args, input);
  expect({ args, stdout: ours.stdout, status: ours.status }).toEqual({ args, stdout: theirs.stdout, status: theirs.status });
  for (const message of theirs.stderr.split("\n").filter((l) => l.length > 0)) {
    // b3sum says "b3sum: Short line" per bad line, and "Error: <why>" when a list cannot be read (we also name the list).
    const text = message.replace(/^b3sum: /, "").replace(/^Error: /, "");
    expect(ours.stderr).toContain(text);
  }
  expect(ours.stderr.split("\n").filter((l) => l.length > 0)).toHaveLength(theirs.stderr.split("\n").filter((l) => l.length > 0).length);
  return ours;
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

describe("strata hash --check", () => {
  const hex = (name: string) => b3sum(["--no-names", name]).stdout.trim();

  test("a list b3sum wrote checks OK, escapes included; --quiet prints only failures", () => {
    const files = ["empty", "small.bin", "big.bin", "back\\slash", "new\nline"];
    writeFileSync(join(dir, "good.b3"), b3sum(files).stdout);
    const ok = expectSameAsB3sum(["--check", "good.b3"]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain("small.bin: OK");
    expect(ok.stdout).toContain("\\back\\\\slash: OK");
    expect(expectSameAsB3sum(["-c", "--quiet", "good.b3"]).stdout).toBe("");
  });

  test("changed, missing and unreadable files FAIL, exit 1", () => {
    writeFileSync(join(dir, "changing.bin"), "before");
    const list = `${b3sum(["changing.bin", "small.bin"]).stdout}${hex("small.bin")}  gone.bin\n${hex("small.bin")}  sub\n`;
    writeFileSync(join(dir, "changed.b3"), list);
    writeFileSync(join(dir, "changing.bin"), "after");
    const r = expectSameAsB3sum(["--check", "changed.b3"]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(`changing.bin: FAILED\nsmall.bin: OK\ngone.bin: FAILED (No such file or directory (os error 2))\nsub: FAILED (Is a directory (os error 21))\n`);
    expect(expectSameAsB3sum(["--check", "--quiet", "changed.b3"]).stdout).not.toContain("OK");
  });

  test("malformed lines are reported on stderr and fail the check; the good ones still count", () => {
    const h = hex("small.bin");
    const lines = [
      "",
      "short",
      `${h.toUpperCase()}  small.bin`,
      `${h} small.bin`,
      `${h}  small.bin\r`,
      `\\${h}  small\\q`,
      `\\${h}  small.bin\\`,
      `${h}  `,
      `${h}   small.bin`,
      `ä${h.slice(1)}  small.bin`,
      `${h}  small.bin`,
    ];
    writeFileSync(join(dir, "bad.b3"), `${lines.join("\n")}\n`);
    const r = expectSameAsB3sum(["--check", "bad.b3"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("strata hash: Empty line");
    expect(r.stderr).toContain("strata hash: Invalid hex");
    expect(r.stderr).toContain("strata hash: Invalid backslash escape");
    writeFileSync(join(dir, "nonl.b3"), `${h}  small.bin`); // no final newline
    expect(expectSameAsB3sum(["--check", "nonl.b3"]).status).toBe(0);
  });

  test("lists from stdin, several lists, a missing list (stops there) and a list that is not UTF-8", () => {
    const list = b3sum(["small.bin", "empty"]).stdout;
    expect(expectSameAsB3sum(["--check"], list).status).toBe(0);
    expect(expectSameAsB3sum(["--check", "-"], list).status).toBe(0);
    writeFileSync(join(dir, "one.b3"), list);
    expect(expectSameAsB3sum(["--check", "one.b3", "one.b3"]).stdout).toBe(`${"small.bin: OK\nempty: OK\n".repeat(2)}`);
    const missing = expectSameAsB3sum(["--check", "one.b3", "nolist.b3", "one.b3"]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("nolist.b3: No such file or directory (os error 2)");
    writeFileSync(join(dir, "latin1.b3"), Buffer.concat([Buffer.from(list), Buffer.from([0xff, 0xfe, 0x0a])]));
    const latin1 = expectSameAsB3sum(["--check", "latin1.b3"]);
    expect(latin1.status).toBe(1);
    expect(latin1.stderr).toContain("stream did not contain valid UTF-8");
  });

  test("--check takes no --length or --no-names; --quiet needs --check (usage errors, exit 2)", () => {
    expect(strata(["hash", "--check", "--length", "10", "x"]).status).toBe(2);
    expect(strata(["hash", "--check", "--no-names", "x"]).status).toBe(2);
    expect(strata(["hash", "--quiet", "small.bin"]).status).toBe(2);
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
