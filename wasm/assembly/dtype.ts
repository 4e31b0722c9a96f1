// Float format conversion: f32 <-> f16, f32 <-> bf16, f16 <-> bf16, round-to-nearest-even.
// The host copies one slice of source elements to dtypeInPtr(), calls a kernel with the
// element count (at most dtypeSlice()), and reads the results from dtypeOutPtr().
//
// NaN rules (the same in every kernel, scalar and SIMD):
// - widening (f16 -> f32, bf16 -> f32) is exact, NaN payload and signalling bit included;
// - narrowing keeps the sign and the top payload bits and sets the quiet bit, so a NaN
//   always stays a NaN and a quiet NaN keeps its payload's top bits (like x86 F16C);
//   a signalling NaN comes out quiet.

const SLICE: i32 = 32768; // elements per call: 128 KiB of f32, L2-resident
const IN = memory.data(SLICE * 4, 16);
const OUT = memory.data(SLICE * 4, 16);

export function dtypeInPtr(): usize {
  return IN;
}
export function dtypeOutPtr(): usize {
  return OUT;
}
export function dtypeSlice(): i32 {
  return SLICE;
}

// ---- scalar forms (tails, and the definition the SIMD forms follow) ----

@inline function bf16FromF32Bits(x: u32): u32 {
  if ((x & 0x7fffffff) > 0x7f800000) return (x >> 16) | 0x40;
  return (x + 0x7fff + ((x >> 16) & 1)) >> 16;
}

@inline function f16FromF32Bits(x: u32): u32 {
  const sign = (x >> 16) & 0x8000;
  const a = x & 0x7fffffff;
  if (a >= 0x47800000) {
    // |x| >= 65536 (rounds to Inf), Inf or NaN
    if (a > 0x7f800000) return sign | 0x7e00 | ((a >> 13) & 0x3ff);
    return sign | 0x7c00;
  }
  if (a < 0x38800000) {
    // below the smallest normal f16 (2^-14): adding 0.5 lines the f16 subnormal grid
    // (2^-24) up with the f32 ulp of [0.5, 1), so the float add itself rounds to even.
    const f = reinterpret<f32>(a) + reinterpret<f32>(0x3f000000);
    return sign | (reinterpret<u32>(f) - 0x3f000000);
  }
  // rebias the exponent (-112 << 23), add half an ulp minus one plus the kept lsb (ties to even)
  return sign | ((a + 0xc8000fff + ((a >> 13) & 1)) >> 13);
}

@inline function f32BitsFromF16(h: u32): u32 {
  const sign = (h & 0x8000) << 16;
  const em = h & 0x7fff;
  if (em >= 0x7c00) return sign | ((em << 13) + 0x70000000);
  if (em >= 0x0400) return sign | ((em << 13) + 0x38000000);
  return sign | reinterpret<u32>(<f32>em * reinterpret<f32>(0x33800000)); // em * 2^-24, exact
}

// ---- SIMD forms, four lanes of i32 ----

@inline function bf16FromF32x4(x: v128): v128 {
  const isNan = i32x4.gt_s(v128.and(x, i32x4.splat(0x7fffffff)), i32x4.splat(0x7f800000));
  const lsb = v128.and(i32x4.shr_u(x, 16), i32x4.splat(1));
  const rounded = i32x4.shr_u(i32x4.add(i32x4.add(x, i32x4.splat(0x7fff)), lsb), 16);
  const nan = v128.or(i32x4.shr_u(x, 16), i32x4.splat(0x40));
  return v128.bitselect(nan, rounded, isNan);
}

@inline function f16FromF32x4(x: v128): v128 {
  const sign = v128.and(i32x4.shr_u(x, 16), i32x4.splat(0x8000));
  const a = v128.and(x, i32x4.splat(0x7fffffff));
  const mant = v128.and(i32x4.shr_u(a, 13), i32x4.splat(0x3ff));
  const isNan = i32x4.gt_s(a, i32x4.splat(0x7f800000));
  const big = v128.bitselect(v128.or(mant, i32x4.splat(0x7e00)), i32x4.splat(0x7c00), isNan);
  const half = i32x4.splat(0x3f000000);
  const sub = i32x4.sub(f32x4.add(a, half), half);
  const odd = v128.and(i32x4.shr_u(a, 13), i32x4.splat(1));
  const normal = i32x4.shr_u(i32x4.add(i32x4.add(a, i32x4.splat(<i32>0xc8000fff)), odd), 13);
  let r = v128.bitselect(sub, normal, i32x4.lt_s(a, i32x4.splat(0x38800000)));
  r = v128.bitselect(big, r, i32x4.ge_s(a, i32x4.splat(0x47800000)));
  return v128.or(r, sign);
}

@inline function f32FromF16x4(h: v128): v128 {
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  const em = v128.and(h, i32x4.splat(0x7fff));
  const normal = i32x4.add(i32x4.shl(em, 13), i32x4.splat(0x38000000));
  const infNan = i32x4.add(normal, i32x4.splat(0x38000000));
  const sub = f32x4.mul(f32x4.convert_i32x4_s(em), f32x4.splat(reinterpret<f32>(0x33800000)));
  let r = v128.bitselect(infNan, normal, i32x4.ge_s(em, i32x4.splat(0x7c00)));
  r = v128.bitselect(sub, r, i32x4.lt_s(em, i32x4.splat(0x0400)));
  return v128.or(r, sign);
}

// ---- kernels: n elements from IN to OUT; 8 per SIMD step, scalar tail ----

export function dtypeF32ToBf16(n: i32): void {
  const body = n & ~7;
  for (let i = 0; i < body; i += 8) {
    const a = bf16FromF32x4(v128.load(IN + (<usize>i << 2)));
    const b = bf16FromF32x4(v128.load(IN + (<usize>i << 2) + 16));
    v128.store(OUT + (<usize>i << 1), i16x8.narrow_i32x4_u(a, b));
  }
  for (let i = body; i < n; i++) store<u16>(OUT + (<usize>i << 1), bf16FromF32Bits(load<u32>(IN + (<usize>i << 2))));
}

export function dtypeBf16ToF32(n: i32): void {
  const body = n & ~7;
  for (let i = 0; i < body; i += 8) {
    const h = v128.load(IN + (<usize>i << 1));
    v128.store(OUT + (<usize>i << 2), i32x4.shl(i32x4.extend_low_i16x8_u(h), 16));
    v128.store(OUT + (<usize>i << 2) + 16, i32x4.shl(i32x4.extend_high_i16x8_u(h), 16));
  }
  for (let i = body; i < n; i++) store<u32>(OUT + (<usize>i << 2), <u32>load<u16>(IN + (<usize>i << 1)) << 16);
}

export function dtypeF32ToF16(n: i32): void {
  const body = n & ~7;
  for (let i = 0; i < body; i += 8) {
    const a = f16FromF32x4(v128.load(IN + (<usize>i << 2)));
    const b = f16FromF32x4(v128.load(IN + (<usize>i << 2) + 16));
    v128.store(OUT + (<usize>i << 1), i16x8.narrow_i32x4_u(a, b));
  }
  for (let i = body; i < n; i++) store<u16>(OUT + (<usize>i << 1), f16FromF32Bits(load<u32>(IN + (<usize>i << 2))));
}

export function dtypeF16ToF32(n: i32): void {
  const body = n & ~7;
  for (let i = 0; i < body; i += 8) {
    const h = v128.load(IN + (<usize>i << 1));
    v128.store(OUT + (<usize>i << 2), f32FromF16x4(i32x4.extend_low_i16x8_u(h)));
    v128.store(OUT + (<usize>i << 2) + 16, f32FromF16x4(i32x4.extend_high_i16x8_u(h)));
  }
  for (let i = body; i < n; i++) store<u32>(OUT + (<usize>i << 2), f32BitsFromF16(load<u16>(IN + (<usize>i << 1))));
}

/** f16 -> bf16 through an exact f32, so there is a single rounding. */
export function dtypeF16ToBf16(n: i32): void {
  const body = n & ~7;
  for (let i = 0; i < body; i += 8) {
    const h = v128.load(IN + (<usize>i << 1));
    const a = bf16FromF32x4(f32FromF16x4(i32x4.extend_low_i16x8_u(h)));
    const b = bf16FromF32x4(f32FromF16x4(i32x4.extend_high_i16x8_u(h)));
    v128.store(OUT + (<usize>i << 1), i16x8.narrow_i32x4_u(a, b));
  }
  for (let i = body; i < n; i++) {
    store<u16>(OUT + (<usize>i << 1), bf16FromF32Bits(f32BitsFromF16(load<u16>(IN + (<usize>i << 1)))));
  }
}

/** bf16 -> f16 through an exact f32, so there is a single rounding. */
export function dtypeBf16ToF16(n: i32): void {
  const body = n & ~7;
  for (let i = 0; i < body; i += 8) {
    const h = v128.load(IN + (<usize>i << 1));
    const a = f16FromF32x4(i32x4.shl(i32x4.extend_low_i16x8_u(h), 16));
    const b = f16FromF32x4(i32x4.shl(i32x4.extend_high_i16x8_u(h), 16));
    v128.store(OUT + (<usize>i << 1), i16x8.narrow_i32x4_u(a, b));
  }
  for (let i = body; i < n; i++) {
    store<u16>(OUT + (<usize>i << 1), f16FromF32Bits(<u32>load<u16>(IN + (<usize>i << 1)) << 16));
  }
}
