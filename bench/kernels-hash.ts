// Hashing and chunking kernels, one runtime per process (bench/run-kernels-hash.ts runs all):
//   bun bench/kernels-hash.ts [--json]
//   deno run -A bench/kernels-hash.ts [--json]
//   bun build bench/kernels-hash.ts --target=node --outfile bench/.work/kernels-hash.mjs && node bench/.work/kernels-hash.mjs
// MB/s are 10^6 input bytes per CPU second, best of RUNS runs after a warm-up, on the same buffers.
import { createHash } from "node:crypto";
import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js";
import { createBLAKE3 } from "hash-wasm";
import { Blake3Hasher, blake3 } from "../core/hashing/blake3.ts";
import { chunk, chunkBoundaries } from "../core/chunking/chunking.ts";
import { crc32c } from "../core/hashing/crc32c.ts";

const RUNS = Number((globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.RUNS ?? 7);
const LARGE = 64 << 20;
const CHUNKED = 64 << 10;

export interface HashBenchResult {
  runtime: string;
  rows: { name: string; mbps: number }[];
}

function runtime(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string; v8: string } } };
  if (g.Bun) return `Bun ${g.Bun.version}`;
  if (g.Deno) return `Deno ${g.Deno.version.deno} (V8 ${g.Deno.version.v8})`;
  return `Node ${process.version} (V8 ${process.versions.v8})`;
}

/**
 * Best of `runs` after two warm-ups. Time is this process's CPU time (user + system), not wall
 * time: every kernel here runs on one thread, and on a shared 2-core machine CPU time is far
 * less disturbed by other jobs than the wall clock.
 */
function bestMbps(bytes: number, fn: () => unknown, runs = RUNS): number {
  fn();
  fn();
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1e3);
  }
  return bytes / 1e6 / (best / 1e3);
}

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  const words = new Uint32Array(out.buffer, 0, n >>> 2);
  let x = seed;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return out;
}

/**
 * The peer for the chunker: a plain JavaScript gear loop (32-bit gear hash, FastCDC
 * normalized masks, same min/avg/max) as npm's JS chunkers do it.
 */
function jsGearBoundaries(data: Uint8Array, min = 16384, avg = 65536, max = 262144): number {
  const gear = new Int32Array(256);
  let s = 1;
  for (let i = 0; i < 256; i++) {
    s = (Math.imul(s, 1103515245) + 12345) | 0;
    gear[i] = s ^ Math.imul(s >>> 16, 0x45d9f3b);
  }
  const maskS = (((1 << 18) - 1) << 13) | 0;
  const maskL = (((1 << 14) - 1) << 17) | 0;
  let count = 0;
  let start = 0;
  while (start < data.length) {
    const n = Math.min(max, data.length - start);
    let len = n;
    let h = 0;
    const normal = Math.min(avg, n);
    let i = min;
    for (; i < normal; i++) {
      h = ((h << 1) + gear[data[start + i]!]!) | 0;
      if ((h & maskS) === 0) break;
    }
    if (i < normal) len = i + 1;
    else {
      for (; i < n; i++) {
        h = ((h << 1) + gear[data[start + i]!]!) | 0;
        if ((h & maskL) === 0) break;
      }
      if (i < n) len = i + 1;
    }
    start += len;
    count++;
  }
  return count;
}

export async function runHashBench(): Promise<HashBenchResult> {
  const large = randomBytes(LARGE, 0x9e3779b9);
  const rows: { name: string; mbps: number }[] = [];
  const add = (name: string, mbps: number) => rows.push({ name, mbps });

  // Sanity: every BLAKE3 agrees before anything is timed.
  const hw = await createBLAKE3();
  const probe = large.subarray(0, 1 << 20);
  hw.init();
  hw.update(probe);
  const ref = hw.digest("hex");
  const ours = Array.from(blake3(probe), (b) => b.toString(16).padStart(2, "0")).join("");
  const noble = Array.from(nobleBlake3(probe), (b) => b.toString(16).padStart(2, "0")).join("");
  if (ours !== ref || noble !== ref) throw new Error("BLAKE3 implementations disagree");

  add("BLAKE3 64 MiB: Strata (WASM SIMD)", bestMbps(LARGE, () => blake3(large)));
  add("BLAKE3 64 MiB: hash-wasm", bestMbps(LARGE, () => {
    hw.init();
    hw.update(large);
    return hw.digest("binary");
  }));
  const nobleInput = large.subarray(0, 16 << 20);
  add("BLAKE3 64 MiB: @noble/hashes (16 MiB)", bestMbps(nobleInput.length, () => nobleBlake3(nobleInput), 3));
  add("SHA-256 64 MiB: node:crypto", bestMbps(LARGE, () => createHash("sha256").update(large).digest()));

  // Chunk-sized messages: 1024 separate 64 KiB hashes.
  const pieces = Array.from({ length: 1024 }, (_, i) => large.subarray(i * CHUNKED, (i + 1) * CHUNKED));
  add("BLAKE3 64 KiB messages: Strata", bestMbps(LARGE, () => pieces.forEach((p) => blake3(p))));
  add("BLAKE3 64 KiB messages: hash-wasm", bestMbps(LARGE, () => pieces.forEach((p) => {
    hw.init();
    hw.update(p);
    hw.digest("binary");
  })));
  add("BLAKE3 streaming, 1 MiB updates: Strata", bestMbps(LARGE, () => {
    const h = Blake3Hasher.create();
    for (let off = 0; off < LARGE; off += 1 << 20) h.update(large.subarray(off, off + (1 << 20)));
    return h.digest();
  }));

  add("CRC32C 64 MiB: Strata", bestMbps(LARGE, () => crc32c(large)));
  const small = pieces.map((p) => p.subarray(0, 256));
  add("CRC32C 256 B messages: Strata (JS path)", bestMbps(256 * 1024, () => small.forEach((p) => crc32c(p))));

  add("FastCDC scan: Strata (WASM)", bestMbps(LARGE, () => chunkBoundaries(large)));
  add("FastCDC scan: plain JS gear loop", bestMbps(LARGE, () => jsGearBoundaries(large), 3));
  add("Chunk + BLAKE3: Strata", bestMbps(LARGE, () => chunk(large)));
  return { runtime: runtime(), rows };
}

const argv = (globalThis as { process?: { argv: string[] } }).process?.argv ?? [];
const isMain = import.meta.main ?? argv[1]?.includes("kernels-hash");
if (isMain) {
  const result = await runHashBench();
  if (argv.includes("--json")) console.log(JSON.stringify(result));
  else {
    console.log(`| ${result.runtime} | MB/s |\n|---|---:|`);
    for (const r of result.rows) console.log(`| ${r.name} | ${r.mbps.toFixed(0)} |`);
  }
}
