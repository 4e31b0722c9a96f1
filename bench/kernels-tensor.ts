// Tensor-codec kernels, one runtime per process:
//   bun bench/kernels-tensor.ts
//   deno run -A bench/kernels-tensor.ts
//   bun build bench/kernels-tensor.ts --target=node --outfile bench/.work/kernels-tensor.mjs && node bench/.work/kernels-tensor.mjs
// Prints a markdown table: MB/s of input bytes (best of several runs) and ratios against peers.
import * as zlib from "node:zlib";
import { compressBytes, decompressBytes } from "../core/tensors/byte-codecs.ts";
import { bf16ToF32, f16ToBf16, f16ToF32, f32ToBf16, f32ToF16 } from "../core/tensors/dtype.ts";
import { compressPlanes, compressPlanesAsync, decompressPlanes, decompressPlanesAsync } from "../core/tensors/plane-compress.ts";
import { mergePlanes, splitPlanes } from "../core/tensors/planes.ts";
import { dequantizeInt8, quantizeInt8 } from "../core/tensors/quantize.ts";

const ELEMENTS = 8 << 20; // 32 MiB of f32, 16 MiB of bf16
const RUNS = Number(process.env.RUNS ?? 5);

function runtime(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string; v8: string } } };
  if (g.Bun) return `Bun ${g.Bun.version}`;
  if (g.Deno) return `Deno ${g.Deno.version.deno} (V8 ${g.Deno.version.v8})`;
  return `Node ${process.version} (V8 ${process.versions.v8})`;
}

interface Speed {
  /** MB/s of wall-clock time, best run. */
  wall: number;
  /** MB/s of this process's CPU time (user + system), best run: on a shared machine this is
   * what the kernel itself costs, unaffected by waiting for a core. Threads add up here. */
  cpu: number;
}

function measure(bytes: number, times: Array<[number, number]>): Speed {
  const wall = Math.min(...times.map((t) => t[0]));
  const cpu = Math.min(...times.map((t) => t[1]));
  return { wall: bytes / 1e6 / (wall / 1e3), cpu: bytes / 1e6 / (cpu / 1e3) };
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
}

/** Each timed run repeats the call for at least this long, so CPU-time granularity does not matter. */
const RUN_MS = 150;

/** Best-of-RUNS throughput in MB/s (10^6 bytes) of `bytes` input bytes per call. */
async function mbpsAsync(bytes: number, fn: () => unknown): Promise<Speed | undefined> {
  if (skip) return undefined;
  const w0 = performance.now();
  await fn(); // warm-up (JIT, first WASM instantiation) and calibration
  const reps = Math.max(1, Math.ceil(RUN_MS / Math.max(0.01, performance.now() - w0)));
  const times: Array<[number, number]> = [];
  for (let r = 0; r < RUNS; r++) {
    const c0 = cpuMs();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await fn();
    times.push([(performance.now() - t0) / reps, (cpuMs() - c0) / reps]);
  }
  return measure(bytes, times);
}
const mbps = mbpsAsync;

/** Compressed size bound of the planes under an order-0 (per-byte, memoryless) model. */
function entropyBound(bytes: Uint8Array, size: number): number {
  const planes = splitPlanes(bytes, size);
  const n = bytes.length / size;
  let bits = 0;
  for (let p = 0; p < size; p++) {
    const hist = new Float64Array(256);
    for (let i = p * n; i < (p + 1) * n; i++) hist[planes[i]!]!++;
    for (const c of hist) if (c > 0) bits -= c * Math.log2(c / n);
  }
  return bytes.length / (bits / 8);
}

function normal(n: number, sigma: number): Float32Array {
  let s = 0x12345678;
  const r = () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), (s >>> 0) / 2 ** 32);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const m = Math.sqrt(-2 * Math.log(1 - r())) * sigma;
    const a = 2 * Math.PI * r();
    out[i] = m * Math.cos(a);
    out[i + 1] = m * Math.sin(a);
  }
  return out;
}

// ---- plain JS scalar peers ----
const fbuf = new Float32Array(1);
const ubuf = new Uint32Array(fbuf.buffer);

function jsF32ToBf16(src: Float32Array, out: Uint16Array): void {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i]!;
    out[i] = (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
}
function jsBf16ToF32(src: Uint16Array, out: Float32Array): void {
  const u = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) u[i] = src[i]! << 16;
}
function jsF32ToF16(src: Float32Array, out: Uint16Array): void {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i]!;
    const sign = (x >>> 16) & 0x8000;
    const a = x & 0x7fffffff;
    let h: number;
    if (a >= 0x47800000) h = a > 0x7f800000 ? 0x7e00 | ((a >>> 13) & 0x3ff) : 0x7c00;
    else if (a < 0x38800000) {
      ubuf[0] = a;
      fbuf[0] = fbuf[0]! + 0.5;
      h = ubuf[0]! - 0x3f000000;
    } else h = ((a + 0xc8000fff + ((a >>> 13) & 1)) >>> 13) & 0xffff;
    out[i] = sign | h;
  }
}
function jsF16ToF32(src: Uint16Array, out: Float32Array): void {
  const u = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i]!;
    const sign = (h & 0x8000) << 16;
    const em = h & 0x7fff;
    if (em >= 0x7c00) u[i] = sign | ((em << 13) + 0x70000000);
    else if (em >= 0x400) u[i] = sign | ((em << 13) + 0x38000000);
    else {
      fbuf[0] = em * 2 ** -24;
      u[i] = sign | ubuf[0]!;
    }
  }
}
function jsSplit(src: Uint8Array, size: number, out: Uint8Array): void {
  const n = src.length / size;
  for (let k = 0; k < size; k++) {
    const base = k * n;
    for (let i = 0; i < n; i++) out[base + i] = src[i * size + k]!;
  }
}
function jsMerge(src: Uint8Array, size: number, out: Uint8Array): void {
  const n = src.length / size;
  for (let k = 0; k < size; k++) {
    const base = k * n;
    for (let i = 0; i < n; i++) out[i * size + k] = src[base + i]!;
  }
}

// ---- measurements ----
const f32 = normal(ELEMENTS, 0.02);
const f32Bytes = new Uint8Array(f32.buffer);
const bf16 = f32ToBf16(f32);
const bf16Bytes = new Uint8Array(bf16.buffer);
const f16 = f32ToF16(f32);
const o16 = new Uint16Array(ELEMENTS);
const o32 = new Float32Array(ELEMENTS);

// ONLY=substring runs just the matching rows (for profiling one kernel).
const only = process.env.ONLY;
let skip = false;
const want = (what: string) => (skip = only !== undefined && !what.includes(only));
const rows: string[] = [];
const f0 = (x: number) => x.toFixed(0);
const row = (what: string, strata: Speed | undefined, peer: Speed | undefined, peerName: string, note = "") => {
  if (skip || !strata) return;
  const cells = [
    what,
    `${f0(strata.wall)} / ${f0(strata.cpu)}`,
    peer ? `${f0(peer.wall)} / ${f0(peer.cpu)}` : "–",
    peer ? `${(strata.wall / peer.wall).toFixed(2)}× / ${(strata.cpu / peer.cpu).toFixed(2)}×` : "–",
    [peerName, note].filter(Boolean).join("; "),
  ];
  rows.push(`| ${cells.join(" | ")} |`);
};

want("f32 → bf16");
row("f32 → bf16", await mbps(f32Bytes.length, () => f32ToBf16(f32, o16)), await mbps(f32Bytes.length, () => jsF32ToBf16(f32, o16)), "JS scalar loop");
want("bf16 → f32");
row("bf16 → f32", await mbps(bf16Bytes.length, () => bf16ToF32(bf16, o32)), await mbps(bf16Bytes.length, () => jsBf16ToF32(bf16, o32)), "JS scalar loop");
want("f32 → f16");
row("f32 → f16", await mbps(f32Bytes.length, () => f32ToF16(f32, o16)), await mbps(f32Bytes.length, () => jsF32ToF16(f32, o16)), "JS scalar loop");
want("f16 → f32");
row("f16 → f32", await mbps(bf16Bytes.length, () => f16ToF32(f16, o32)), await mbps(bf16Bytes.length, () => jsF16ToF32(f16, o32)), "JS scalar loop");
want("f16 → bf16");
row("f16 → bf16", await mbps(bf16Bytes.length, () => f16ToBf16(f16, o16)), undefined, "");

const planeOut = new Uint8Array(f32Bytes.length);
const split2 = splitPlanes(bf16Bytes, 2);
const split4 = splitPlanes(f32Bytes, 4);
const p2 = planeOut.subarray(0, bf16Bytes.length);
want("plane split, 2-byte");
row("plane split, 2-byte", await mbps(bf16Bytes.length, () => splitPlanes(bf16Bytes, 2, p2)), await mbps(bf16Bytes.length, () => jsSplit(bf16Bytes, 2, p2)), "JS byte loop");
want("plane merge, 2-byte");
row("plane merge, 2-byte", await mbps(bf16Bytes.length, () => mergePlanes(split2, 2, p2)), await mbps(bf16Bytes.length, () => jsMerge(split2, 2, p2)), "JS byte loop");
want("plane split, 4-byte");
row("plane split, 4-byte", await mbps(f32Bytes.length, () => splitPlanes(f32Bytes, 4, planeOut)), await mbps(f32Bytes.length, () => jsSplit(f32Bytes, 4, planeOut)), "JS byte loop");
want("plane merge, 4-byte");
row("plane merge, 4-byte", await mbps(f32Bytes.length, () => mergePlanes(split4, 4, planeOut)), await mbps(f32Bytes.length, () => jsMerge(split4, 4, planeOut)), "JS byte loop");

const hasZstd = typeof (zlib as unknown as { zstdCompressSync?: unknown }).zstdCompressSync === "function";
const codec = hasZstd ? "zstd" : "deflate";
for (const [name, bytes, dtype] of [["bf16", bf16Bytes, "BF16"], ["f32", f32Bytes, "F32"]] as const) {
  want(`plane compress, ${name}`);
  const container = compressPlanes(bytes, dtype);
  const ratio = bytes.length / container.length;
  const whole = compressBytes(codec, bytes, { level: 1 });
  const wholeTuned = compressBytes(codec, bytes);
  const peerRatio = bytes.length / whole.length;
  row(
    `plane compress, ${name} N(0, 0.02)`,
    await mbps(bytes.length, () => compressPlanes(bytes, dtype)),
    await mbps(bytes.length, () => compressBytes(codec, bytes, { level: 1 })),
    `${codec} level 1 on unsplit bytes`,
    `ratio **${ratio.toFixed(3)}×** (order-0 entropy bound of the planes ${entropyBound(bytes, dtype === "BF16" ? 2 : 4).toFixed(3)}×) vs peer ${peerRatio.toFixed(3)}× (tuned params on unsplit: ${(bytes.length / wholeTuned.length).toFixed(3)}×)`,
  );
  want(`plane compress async, ${name}`);
  row(
    `plane compress async, ${name}`,
    await mbpsAsync(bytes.length, () => compressPlanesAsync(bytes, dtype)),
    undefined,
    "",
    "planes on the zlib thread pool, CRCs on the main thread",
  );
  want(`plane decompress, ${name}`);
  row(
    `plane decompress, ${name}`,
    await mbps(bytes.length, () => decompressPlanes(container)),
    await mbps(bytes.length, () => decompressBytes(codec, whole, bytes.length)),
    `${codec} decompress of the unsplit bytes`,
    "includes a CRC32C check of every plane",
  );
  want(`plane decompress async, ${name}`);
  row(`plane decompress async, ${name}`, await mbpsAsync(bytes.length, () => decompressPlanesAsync(container)), undefined, "");
}

const qShape = [4096, ELEMENTS / 4096];
const qt = quantizeInt8(f32, qShape, 0);
want("int8 quantise [4096, 2048], axis 0 (runs kernel)");
row("int8 quantise [4096, 2048], axis 0 (runs kernel)", await mbps(f32Bytes.length, () => quantizeInt8(f32, qShape, 0)), undefined, "");
want("int8 quantise [4096, 2048], axis 1 (rows kernel)");
row("int8 quantise [4096, 2048], axis 1 (rows kernel)", await mbps(f32Bytes.length, () => quantizeInt8(f32, qShape, 1)), undefined, "");
want("int8 dequantise, axis 0");
row("int8 dequantise, axis 0", await mbps(qt.q.length, () => dequantizeInt8(qt, o32)), undefined, "", "MB/s of int8 input");

console.log(`### ${runtime()}\n`);
console.log(`Buffers: ${ELEMENTS} elements (${f32Bytes.length >> 20} MiB f32, ${bf16Bytes.length >> 20} MiB bf16); best of ${RUNS}; MB/s of input bytes, per wall-clock second / per CPU-second of this process.\n`);
console.log("| kernel | Strata MB/s wall / CPU | peer MB/s wall / CPU | speed-up wall / CPU | peer; note |");
console.log("| --- | ---: | ---: | ---: | --- |");
for (const r of rows) console.log(r);
