// int8 symmetric quantisation of contiguous runs that share one scale:
//   q = clamp(roundHalfEven(x / scale), -127, 127),  x' = q * scale   (all in f32)
// The host streams each run through quantInPtr() in slices of at most quantSlice() elements.

const SLICE: i32 = 32768;
const IN = memory.data(SLICE * 4, 16);
const OUT = memory.data(SLICE * 4, 16);

export function quantInPtr(): usize {
  return IN;
}
export function quantOutPtr(): usize {
  return OUT;
}
export function quantSlice(): i32 {
  return SLICE;
}

/** max(acc, max |x|) over n f32 at IN; a NaN anywhere makes the result NaN. */
export function quantAbsMax(n: i32, acc: f32): f32 {
  const body = n & ~15;
  const mask = i32x4.splat(0x7fffffff);
  let m0 = f32x4.splat(acc);
  let m1 = m0;
  let m2 = m0;
  let m3 = m0;
  for (let i = 0; i < body; i += 16) {
    const p = IN + (<usize>i << 2);
    // f32x4.max propagates NaN, unlike pmax
    m0 = f32x4.max(m0, v128.and(v128.load(p), mask));
    m1 = f32x4.max(m1, v128.and(v128.load(p + 16), mask));
    m2 = f32x4.max(m2, v128.and(v128.load(p + 32), mask));
    m3 = f32x4.max(m3, v128.and(v128.load(p + 48), mask));
  }
  const m = f32x4.max(f32x4.max(m0, m1), f32x4.max(m2, m3));
  let r = max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
  for (let i = body; i < n; i++) r = max(r, abs(load<f32>(IN + (<usize>i << 2))));
  return r;
}

@inline function quant4(x: v128, scale: v128): v128 {
  const q = f32x4.nearest(f32x4.div(x, scale));
  return i32x4.trunc_sat_f32x4_s(f32x4.min(f32x4.max(q, f32x4.splat(-127)), f32x4.splat(127)));
}

/** n f32 at IN to n i8 at OUT with one scale; scale 0 (an all-zero run) gives zeros. */
export function quantRun(n: i32, scale: f32): void {
  if (scale == 0) {
    memory.fill(OUT, 0, <usize>n);
    return;
  }
  const body = n & ~15;
  const s = f32x4.splat(scale);
  for (let i = 0; i < body; i += 16) {
    const p = IN + (<usize>i << 2);
    const a = i16x8.narrow_i32x4_s(quant4(v128.load(p), s), quant4(v128.load(p + 16), s));
    const b = i16x8.narrow_i32x4_s(quant4(v128.load(p + 32), s), quant4(v128.load(p + 48), s));
    v128.store(OUT + <usize>i, i8x16.narrow_i16x8_s(a, b));
  }
  for (let i = body; i < n; i++) {
    const q = nearest(load<f32>(IN + (<usize>i << 2)) / scale);
    store<i8>(OUT + <usize>i, <i8>(<i32>min(max(q, <f32>-127), <f32>127)));
  }
}

/** n i8 at IN to n f32 at OUT: q * scale. */
export function dequantRun(n: i32, scale: f32): void {
  const body = n & ~15;
  const s = f32x4.splat(scale);
  for (let i = 0; i < body; i += 16) {
    const v = v128.load(IN + <usize>i);
    const lo = i16x8.extend_low_i8x16_s(v);
    const hi = i16x8.extend_high_i8x16_s(v);
    const p = OUT + (<usize>i << 2);
    v128.store(p, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), s));
    v128.store(p + 16, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), s));
    v128.store(p + 32, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), s));
    v128.store(p + 48, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), s));
  }
  for (let i = body; i < n; i++) store<f32>(OUT + (<usize>i << 2), <f32>load<i8>(IN + <usize>i) * scale);
}

// ---- periodic layout: the channel axis is last or nearly last, so consecutive elements
// cycle through channels. The host writes one scale per position of a period (a whole
// number of channel cycles) at quantScalesPtr(); n covers whole periods, the last may be cut.

const PERIOD_MAX: i32 = 8192;
const SCALES = memory.data(PERIOD_MAX * 4, 16);

export function quantScalesPtr(): usize {
  return SCALES;
}
export function quantPeriodMax(): i32 {
  return PERIOD_MAX;
}

/** SCALES[j] = max(SCALES[j], |x|) for every x at position j of a period; NaN propagates. */
export function quantAbsMaxRows(n: i32, period: i32): void {
  const mask = i32x4.splat(0x7fffffff);
  for (let base = 0; base < n; base += period) {
    const len = min(period, n - base);
    const row = IN + (<usize>base << 2);
    const body = len & ~3;
    for (let j = 0; j < body; j += 4) {
      const at = SCALES + (<usize>j << 2);
      v128.store(at, f32x4.max(v128.load(at), v128.and(v128.load(row + (<usize>j << 2)), mask)));
    }
    for (let j = body; j < len; j++) {
      const at = SCALES + (<usize>j << 2);
      store<f32>(at, max(load<f32>(at), abs(load<f32>(row + (<usize>j << 2)))));
    }
  }
}

/** Quantises with the per-position scales. Scale 0 gives 0/0 = NaN, which trunc_sat makes 0. */
export function quantRows(n: i32, period: i32): void {
  for (let base = 0; base < n; base += period) {
    const len = min(period, n - base);
    const row = IN + (<usize>base << 2);
    const out = OUT + <usize>base;
    const body = len & ~3;
    for (let j = 0; j < body; j += 4) {
      const q = quant4(v128.load(row + (<usize>j << 2)), v128.load(SCALES + (<usize>j << 2)));
      store<u32>(out + <usize>j, i32x4.extract_lane(i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(q, q), q), 0));
    }
    for (let j = body; j < len; j++) {
      const s = load<f32>(SCALES + (<usize>j << 2));
      const q = s == 0 ? <f32>0 : nearest(load<f32>(row + (<usize>j << 2)) / s);
      store<i8>(out + <usize>j, <i8>(<i32>min(max(q, <f32>-127), <f32>127)));
    }
  }
}

export function dequantRows(n: i32, period: i32): void {
  for (let base = 0; base < n; base += period) {
    const len = min(period, n - base);
    const row = IN + <usize>base;
    const out = OUT + (<usize>base << 2);
    const body = len & ~3;
    for (let j = 0; j < body; j += 4) {
      const v = i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(row + <usize>j)));
      v128.store(out + (<usize>j << 2), f32x4.mul(f32x4.convert_i32x4_s(v), v128.load(SCALES + (<usize>j << 2))));
    }
    for (let j = body; j < len; j++) {
      store<f32>(out + (<usize>j << 2), <f32>load<i8>(row + <usize>j) * load<f32>(SCALES + (<usize>j << 2)));
    }
  }
}
