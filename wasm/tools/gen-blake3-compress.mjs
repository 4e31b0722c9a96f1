// Writes wasm/assembly/blake3-compress.ts: the BLAKE3 compression function unrolled
// (7 rounds x 8 G calls) scalar, and two 4-way SIMD kernels (one v128 lane per input).
// Generating the unrolled code keeps all 16 state words in locals, which AssemblyScript
// cannot express with helper functions (no by-reference locals).
// Run: node wasm/tools/gen-blake3-compress.mjs
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const PERM = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
// schedule[r][i]: which original message word round r uses in position i.
const schedule = [Array.from({ length: 16 }, (_, i) => i)];
for (let r = 1; r < 7; r++) schedule.push(PERM.map((p) => schedule[r - 1][p]));

const G_ORDER = [
  [0, 4, 8, 12], [1, 5, 9, 13], [2, 6, 10, 14], [3, 7, 11, 15],
  [0, 5, 10, 15], [1, 6, 11, 12], [2, 7, 8, 13], [3, 4, 9, 14],
];

function rounds(g) {
  const out = [];
  for (let r = 0; r < 7; r++) {
    out.push(`  // round ${r}`);
    G_ORDER.forEach(([a, b, c, d], i) => out.push(g(a, b, c, d, schedule[r][2 * i], schedule[r][2 * i + 1])));
  }
  return out.join("\n");
}

const scalarG = (a, b, c, d, x, y) =>
  `  v${a} += v${b} + m${x}; v${d} = rotr<u32>(v${d} ^ v${a}, 16); v${c} += v${d}; v${b} = rotr<u32>(v${b} ^ v${c}, 12);\n` +
  `  v${a} += v${b} + m${y}; v${d} = rotr<u32>(v${d} ^ v${a}, 8); v${c} += v${d}; v${b} = rotr<u32>(v${b} ^ v${c}, 7);`;

const simdG = (a, b, c, d, x, y) =>
  `  v${a} = i32x4.add(i32x4.add(v${a}, v${b}), m${x}); v${d} = rot16(v128.xor(v${d}, v${a})); v${c} = i32x4.add(v${c}, v${d}); v${b} = rot12(v128.xor(v${b}, v${c}));\n` +
  `  v${a} = i32x4.add(i32x4.add(v${a}, v${b}), m${y}); v${d} = rot8(v128.xor(v${d}, v${a})); v${c} = i32x4.add(v${c}, v${d}); v${b} = rot7(v128.xor(v${b}, v${c}));`;

const range = (n) => Array.from({ length: n }, (_, i) => i);

// Message word for schedule position i of the current round, loaded from msgBuf.
const msgAt = (i) => `v128.load(msgBuf + (<usize>load<u8>(s, ${i}) << 4))`;
const simdGMem = (a, b, c, d, x, y) =>
  simdG(a, b, c, d, x, y).replace(`m${x})`, `${msgAt(x)})`).replace(`m${y})`, `${msgAt(y)})`).replace("rot7(", "rot7NoShift(");

// Two 4-way kernels, picked at load time by engine:
// - hash4 (JavaScriptCore): one round in a loop, message vectors in memory picked through a
//   schedule table, and rotr 7 without shift instructions. JSC tiers a small function up to
//   its optimizing compiler much sooner, and lowers every constant vector shift to a scalar
//   count moved into a vector register; this variant runs about 25% faster there.
// - hash4Unrolled (V8): all 7 rounds unrolled with the schedule applied here, message vectors
//   in locals; V8 compiles it well and runs it a few percent faster than hash4.
function hash4(rolled) {
  const roundCode = rolled
    ? [
        range(16).map((i) => `    v128.store(msgBuf, m${i}, ${16 * i});`).join("\n"),
        "    for (let r = 0; r < 7; r++) {",
        "      const s = msgSchedule + (<usize>r << 4);",
        G_ORDER.map(([a, b, c, d], i) => simdGMem(a, b, c, d, 2 * i, 2 * i + 1).replace(/^ {2}/gm, "      ")).join("\n"),
        "    }",
      ].join("\n")
    : rounds(simdG).replace(/^ {2}/gm, "    ");
  const name = rolled ? "hash4" : "hash4Unrolled";
  return `/**
 * Hashes \`blocks\` consecutive 64-byte blocks of four inputs at once (one per v128 lane):
 * four chunks (blocks = 16) or four parents (blocks = 1). Lane i reads from \`p<i>\`, uses
 * counter \`counter + i\` when \`incCounter\`, and writes its 8-word chaining value to
 * \`out + 32 * i\`. \`flagsStart\` is added on the first block and \`flagsEnd\` on the last.
 */
export function ${name}(
  p0: usize, p1: usize, p2: usize, p3: usize, blocks: i32, key: usize,
  counter: u64, incCounter: bool, flags: u32, flagsStart: u32, flagsEnd: u32, out: usize,
): void {
${range(8).map((i) => `  let h${i} = i32x4.splat(load<u32>(key, ${4 * i}));`).join("\n")}
  const c0 = counter;
  const c1 = incCounter ? counter + 1 : counter;
  const c2 = incCounter ? counter + 2 : counter;
  const c3 = incCounter ? counter + 3 : counter;
  let clo = i32x4.splat(<i32>c0);
  clo = i32x4.replace_lane(clo, 1, <i32>c1);
  clo = i32x4.replace_lane(clo, 2, <i32>c2);
  clo = i32x4.replace_lane(clo, 3, <i32>c3);
  let chi = i32x4.splat(<i32>(c0 >>> 32));
  chi = i32x4.replace_lane(chi, 1, <i32>(c1 >>> 32));
  chi = i32x4.replace_lane(chi, 2, <i32>(c2 >>> 32));
  chi = i32x4.replace_lane(chi, 3, <i32>(c3 >>> 32));
  const blockLenV = i32x4.splat(64);
  let blockFlags = flags | flagsStart;
  for (let b = 0; b < blocks; b++) {
    if (b + 1 == blocks) blockFlags |= flagsEnd;
    const off = <usize>(b << 6);
${range(4)
  .map((q) => {
    const o = 16 * q;
    return [
      `    const w${q} = v128.load(p0 + off, ${o}); const x${q} = v128.load(p1 + off, ${o});`,
      `    const y${q} = v128.load(p2 + off, ${o}); const z${q} = v128.load(p3 + off, ${o});`,
      `    const ab01_${q} = i32x4.shuffle(w${q}, x${q}, 0, 4, 1, 5); const ab23_${q} = i32x4.shuffle(w${q}, x${q}, 2, 6, 3, 7);`,
      `    const cd01_${q} = i32x4.shuffle(y${q}, z${q}, 0, 4, 1, 5); const cd23_${q} = i32x4.shuffle(y${q}, z${q}, 2, 6, 3, 7);`,
      `    const m${4 * q} = i64x2.shuffle(ab01_${q}, cd01_${q}, 0, 2); const m${4 * q + 1} = i64x2.shuffle(ab01_${q}, cd01_${q}, 1, 3);`,
      `    const m${4 * q + 2} = i64x2.shuffle(ab23_${q}, cd23_${q}, 0, 2); const m${4 * q + 3} = i64x2.shuffle(ab23_${q}, cd23_${q}, 1, 3);`,
    ].join("\n");
  })
  .join("\n")}
${range(8).map((i) => `    let v${i} = h${i};`).join("\n")}
    let v8 = i32x4.splat(IV0); let v9 = i32x4.splat(IV1); let v10 = i32x4.splat(IV2); let v11 = i32x4.splat(IV3);
    let v12 = clo; let v13 = chi; let v14 = blockLenV; let v15 = i32x4.splat(blockFlags);
${roundCode}
${range(8).map((i) => `    h${i} = v128.xor(v${i}, v${i + 8});`).join("\n")}
    blockFlags = flags;
  }
  // Transpose back: lane i's 8 words go to out + 32 * i.
${[0, 4]
  .map((base) => {
    const [a, b, c, d] = [base, base + 1, base + 2, base + 3].map((i) => `h${i}`);
    const o = base * 4;
    return [
      `  {`,
      `    const ab01 = i32x4.shuffle(${a}, ${b}, 0, 4, 1, 5); const ab23 = i32x4.shuffle(${a}, ${b}, 2, 6, 3, 7);`,
      `    const cd01 = i32x4.shuffle(${c}, ${d}, 0, 4, 1, 5); const cd23 = i32x4.shuffle(${c}, ${d}, 2, 6, 3, 7);`,
      `    v128.store(out, i64x2.shuffle(ab01, cd01, 0, 2), ${o});`,
      `    v128.store(out, i64x2.shuffle(ab01, cd01, 1, 3), ${32 + o});`,
      `    v128.store(out, i64x2.shuffle(ab23, cd23, 0, 2), ${64 + o});`,
      `    v128.store(out, i64x2.shuffle(ab23, cd23, 1, 3), ${96 + o});`,
      `  }`,
    ].join("\n");
  })
  .join("\n")}
}
`;
}

const source = `// Generated by wasm/tools/gen-blake3-compress.mjs: do not edit by hand.
// BLAKE3 compression (spec section 2.2), scalar and 4-way SIMD.

// @ts-ignore: decorator
@inline export const IV0: u32 = 0x6a09e667;
// @ts-ignore: decorator
@inline export const IV1: u32 = 0xbb67ae85;
// @ts-ignore: decorator
@inline export const IV2: u32 = 0x3c6ef372;
// @ts-ignore: decorator
@inline export const IV3: u32 = 0xa54ff53a;
// @ts-ignore: decorator
@inline export const IV4: u32 = 0x510e527f;
// @ts-ignore: decorator
@inline export const IV5: u32 = 0x9b05688c;
// @ts-ignore: decorator
@inline export const IV6: u32 = 0x1f83d9ab;
// @ts-ignore: decorator
@inline export const IV7: u32 = 0x5be0cd19;

// Rolled 4-way kernel: transposed message vectors and, per round, which of them each G uses.
const msgBuf: usize = memory.data(256, 16);
const msgSchedule: usize = memory.data<u8>([${schedule.flat().join(", ")}]);

/**
 * Compresses one 64-byte block at \`block\` with chaining value at \`cv\` (8 words), writing
 * 8 words (or all 16 when \`full\`, for extended output) to \`out\`. Reads everything before
 * writing, so \`out\` may alias \`cv\` or \`block\`.
 */
export function compress(cv: usize, block: usize, blockLen: u32, counter: u64, flags: u32, out: usize, full: bool): void {
${range(16).map((i) => `  const m${i} = load<u32>(block, ${4 * i});`).join("\n")}
${range(8).map((i) => `  const h${i} = load<u32>(cv, ${4 * i});`).join("\n")}
${range(8).map((i) => `  let v${i} = h${i};`).join("\n")}
  let v8 = IV0; let v9 = IV1; let v10 = IV2; let v11 = IV3;
  let v12 = <u32>counter; let v13 = <u32>(counter >>> 32); let v14 = blockLen; let v15 = flags;
${rounds(scalarG)}
${range(8).map((i) => `  store<u32>(out, v${i} ^ v${i + 8}, ${4 * i});`).join("\n")}
  if (full) {
${range(8).map((i) => `    store<u32>(out, v${i + 8} ^ h${i}, ${4 * (i + 8)});`).join("\n")}
  }
}

// @ts-ignore: decorator
@inline function rot16(x: v128): v128 {
  return i8x16.shuffle(x, x, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
}
// @ts-ignore: decorator
@inline function rot8(x: v128): v128 {
  return i8x16.shuffle(x, x, 1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12);
}
// @ts-ignore: decorator
@inline function rot12(x: v128): v128 {
  return v128.or(i32x4.shr_u(x, 12), i32x4.shl(x, 20));
}
// rotr 7 = rotl 1 of rotr 8, with rotl 1 as (y + y) - (y < 0 ? -1 : 0): no shift instructions,
// which JavaScriptCore lowers to a scalar count moved into a vector register each time.
// @ts-ignore: decorator
@inline function rot7NoShift(x: v128): v128 {
  const y = rot8(x);
  return i32x4.sub(i32x4.add(y, y), i32x4.lt_s(y, i32x4.splat(0)));
}
// @ts-ignore: decorator
@inline function rot7(x: v128): v128 {
  return v128.or(i32x4.shr_u(x, 7), i32x4.shl(x, 25));
}

${hash4(true)}
${hash4(false)}`;

const target = join(dirname(fileURLToPath(import.meta.url)), "..", "assembly", "blake3-compress.ts");
writeFileSync(target, source);
console.log(`wrote ${target}`);
