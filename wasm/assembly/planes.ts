// Byte planes: element i's byte k goes to plane k at index i (split), and back (merge).
// The host puts one slice in planesInPtr() (interleaved elements for split, planes laid
// one after another, n bytes each, for merge) and reads the result at planesOutPtr().
// Element sizes 2 and 4 use SIMD shuffles; any other size takes the scalar loop.

const SLICE_BYTES: i32 = 128 * 1024;
const IN = memory.data(SLICE_BYTES, 16);
const OUT = memory.data(SLICE_BYTES, 16);

export function planesInPtr(): usize {
  return IN;
}
export function planesOutPtr(): usize {
  return OUT;
}
/** Capacity of each buffer in bytes; a call handles at most this / element size elements. */
export function planesSliceBytes(): i32 {
  return SLICE_BYTES;
}

// Within one 16-byte vector of four 4-byte elements: byte k of each element to lane group k.
// This 4x4 byte transpose is its own inverse, so merge uses it too.
@inline function transpose4x4Bytes(v: v128): v128 {
  return i8x16.shuffle(v, v, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
}

/** 4x4 transpose of 32-bit lanes across four vectors, written to four destinations. */
@inline function transpose4x4Lanes(t0: v128, t1: v128, t2: v128, t3: v128, d0: usize, d1: usize, d2: usize, d3: usize, mapBytes: bool): void {
  const a = i32x4.shuffle(t0, t1, 0, 4, 1, 5);
  const b = i32x4.shuffle(t2, t3, 0, 4, 1, 5);
  const c = i32x4.shuffle(t0, t1, 2, 6, 3, 7);
  const d = i32x4.shuffle(t2, t3, 2, 6, 3, 7);
  let p0 = i64x2.shuffle(a, b, 0, 2);
  let p1 = i64x2.shuffle(a, b, 1, 3);
  let p2 = i64x2.shuffle(c, d, 0, 2);
  let p3 = i64x2.shuffle(c, d, 1, 3);
  if (mapBytes) {
    p0 = transpose4x4Bytes(p0);
    p1 = transpose4x4Bytes(p1);
    p2 = transpose4x4Bytes(p2);
    p3 = transpose4x4Bytes(p3);
  }
  v128.store(d0, p0);
  v128.store(d1, p1);
  v128.store(d2, p2);
  v128.store(d3, p3);
}

export function planesSplit(n: i32, size: i32): void {
  const un = <usize>n;
  if (size == 2) {
    const body = n & ~15;
    for (let i = 0; i < body; i += 16) {
      const a = v128.load(IN + (<usize>i << 1));
      const b = v128.load(IN + (<usize>i << 1) + 16);
      v128.store(OUT + <usize>i, i8x16.shuffle(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30));
      v128.store(OUT + un + <usize>i, i8x16.shuffle(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31));
    }
    for (let i = body; i < n; i++) {
      store<u8>(OUT + <usize>i, load<u8>(IN + (<usize>i << 1)));
      store<u8>(OUT + un + <usize>i, load<u8>(IN + (<usize>i << 1) + 1));
    }
    return;
  }
  if (size == 4) {
    const body = n & ~15;
    for (let i = 0; i < body; i += 16) {
      const src = IN + (<usize>i << 2);
      const t0 = transpose4x4Bytes(v128.load(src));
      const t1 = transpose4x4Bytes(v128.load(src + 16));
      const t2 = transpose4x4Bytes(v128.load(src + 32));
      const t3 = transpose4x4Bytes(v128.load(src + 48));
      const dst = OUT + <usize>i;
      transpose4x4Lanes(t0, t1, t2, t3, dst, dst + un, dst + 2 * un, dst + 3 * un, false);
    }
    for (let i = body; i < n; i++) {
      for (let k = 0; k < 4; k++) store<u8>(OUT + <usize>k * un + <usize>i, load<u8>(IN + (<usize>i << 2) + <usize>k));
    }
    return;
  }
  const s = <usize>size;
  for (let k: usize = 0; k < s; k++) {
    const dst = OUT + k * un;
    for (let i: usize = 0; i < un; i++) store<u8>(dst + i, load<u8>(IN + i * s + k));
  }
}

export function planesMerge(n: i32, size: i32): void {
  const un = <usize>n;
  if (size == 2) {
    const body = n & ~15;
    for (let i = 0; i < body; i += 16) {
      const lo = v128.load(IN + <usize>i);
      const hi = v128.load(IN + un + <usize>i);
      v128.store(OUT + (<usize>i << 1), i8x16.shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
      v128.store(OUT + (<usize>i << 1) + 16, i8x16.shuffle(lo, hi, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31));
    }
    for (let i = body; i < n; i++) {
      store<u8>(OUT + (<usize>i << 1), load<u8>(IN + <usize>i));
      store<u8>(OUT + (<usize>i << 1) + 1, load<u8>(IN + un + <usize>i));
    }
    return;
  }
  if (size == 4) {
    const body = n & ~15;
    for (let i = 0; i < body; i += 16) {
      const src = IN + <usize>i;
      const dst = OUT + (<usize>i << 2);
      transpose4x4Lanes(
        v128.load(src), v128.load(src + un), v128.load(src + 2 * un), v128.load(src + 3 * un),
        dst, dst + 16, dst + 32, dst + 48, true,
      );
    }
    for (let i = body; i < n; i++) {
      for (let k = 0; k < 4; k++) store<u8>(OUT + (<usize>i << 2) + <usize>k, load<u8>(IN + <usize>k * un + <usize>i));
    }
    return;
  }
  const s = <usize>size;
  for (let k: usize = 0; k < s; k++) {
    const src = IN + k * un;
    for (let i: usize = 0; i < un; i++) store<u8>(OUT + i * s + k, load<u8>(src + i));
  }
}
