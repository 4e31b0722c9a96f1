import { describe, expect, test } from "bun:test";
import { type CodecName, codecAvailable } from "../../core/tensors/byte-codecs.ts";
import { crc32c } from "../../core/hashing/crc32c.ts";
import { f32ToBf16, f32ToF16 } from "../../core/tensors/dtype.ts";
import { StrataError } from "../../core/errors.ts";
import { compressPlanes, compressPlanesAsync, decompressPlanes, decompressPlanesAsync, inspectPlanes } from "../../core/tensors/plane-compress.ts";
import type { Dtype } from "../../core/tensors/tensor-types.ts";

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

function normal(n: number, sigma: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - r();
    const v = r();
    const m = Math.sqrt(-2 * Math.log(u)) * sigma;
    out[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return out;
}

const bytesOf = (v: ArrayBufferView) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof StrataError) return e.code;
    throw e;
  }
  return "no error";
}

/** Rewrites the header CRC after a deliberate header edit, so deeper checks are reached. */
function resealHeader(c: Uint8Array): Uint8Array {
  const hlen = 16 + c[6]! * 16 + 4;
  new DataView(c.buffer, c.byteOffset).setUint32(hlen - 4, crc32c(c.subarray(0, hlen - 4)), true);
  return c;
}

const codecs = (["raw", "zstd", "brotli", "deflate"] as CodecName[]).filter(codecAvailable);

describe("plane compression round trip", () => {
  const dtypes: Dtype[] = ["BF16", "F16", "F32", "F64", "U8", "I32"];
  for (const codec of codecs) {
    for (const dtype of dtypes) {
      test(`${codec} ${dtype}: empty, odd and slice-crossing lengths are byte-exact`, () => {
        const size = { BF16: 2, F16: 2, F32: 4, F64: 8, U8: 1, I32: 4 }[dtype as "BF16"]!;
        for (const n of [0, 1, 3, 17, 1001, 65536 + 5, 200_003]) {
          const f = normal(Math.ceil((n * size) / 4), 0.05, n + 7);
          const bytes = bytesOf(f).slice(0, n * size);
          const c = compressPlanes(bytes, dtype, { codec });
          const info = inspectPlanes(c);
          expect(info.dtype).toBe(dtype);
          expect(info.count).toBe(n);
          expect(info.planes.length).toBe(size);
          const back = decompressPlanes(c);
          expect(back.dtype).toBe(dtype);
          expect(back.bytes).toEqual(bytes);
        }
      });
    }
  }

  test("results never alias the reused scratch buffer", () => {
    const a = bytesOf(f32ToBf16(normal(70_001, 0.02, 1))).slice();
    const b = bytesOf(f32ToBf16(normal(70_001, 3, 2))).slice();
    const ca = compressPlanes(a, "BF16", { codec: "raw" });
    const cb = compressPlanes(b, "BF16", { codec: "raw" });
    const ra = decompressPlanes(ca).bytes;
    const rb = decompressPlanes(cb).bytes;
    expect(ra).toEqual(a);
    expect(rb).toEqual(b);
    expect(decompressPlanes(ca).bytes).toEqual(a);
  });

  test("an explicit level is honoured and still round-trips", () => {
    const bytes = bytesOf(f32ToBf16(normal(50_001, 1, 3)));
    for (const codec of codecs) {
      expect(decompressPlanes(compressPlanes(bytes, "BF16", { codec, level: 3 })).bytes).toEqual(bytes);
    }
  });

  test("incompressible planes are stored raw; output never exceeds input + header", () => {
    const bytes = new Uint8Array(bytesOf(normal(40_000, 1, 11)).buffer.slice(0));
    const c = compressPlanes(bytes, "F32");
    const info = inspectPlanes(c);
    expect(info.planes[0]!.codec).toBe("raw"); // low mantissa byte: noise
    expect(c.byteLength).toBeLessThanOrEqual(bytes.byteLength + info.headerLength);
  });

  test("ratio on a normal bf16 tensor and on f32 (printed; bf16 must beat 1.4x with zstd)", () => {
    const f = normal(4 << 20, 0.02, 42);
    for (const codec of codecs) {
      const bf = bytesOf(f32ToBf16(f));
      const f16 = bytesOf(f32ToF16(f));
      const f32 = bytesOf(f);
      const rb = bf.byteLength / compressPlanes(bf, "BF16", { codec }).byteLength;
      const rh = f16.byteLength / compressPlanes(f16, "F16", { codec }).byteLength;
      const rf = f32.byteLength / compressPlanes(f32, "F32", { codec }).byteLength;
      console.log(`${codec}: bf16 ${rb.toFixed(3)}x, f16 ${rh.toFixed(3)}x, f32 ${rf.toFixed(3)}x`);
      if (codec === "zstd") expect(rb).toBeGreaterThan(1.4);
      if (codec !== "raw") expect(rb).toBeGreaterThan(1.3);
    }
  });
});

describe("async variants (thread pool)", () => {
  test("produce the same bytes as the sync ones, for every codec and odd lengths", async () => {
    for (const codec of codecs) {
      for (const n of [0, 1, 999, 100_001]) {
        const bytes = bytesOf(f32ToBf16(normal(n, 0.02, n + 1)));
        const sync = compressPlanes(bytes, "BF16", { codec });
        const async = await compressPlanesAsync(bytes, "BF16", { codec });
        expect(async).toEqual(sync);
        const back = await decompressPlanesAsync(async);
        expect(back.dtype).toBe("BF16");
        expect(back.bytes).toEqual(bytes);
      }
    }
  });

  test("reject corrupt containers with CORRUPT_DATA", async () => {
    const good = compressPlanes(bytesOf(normal(5000, 0.02, 3)), "F32");
    const hlen = inspectPlanes(good).headerLength;
    for (let i = 0; i < good.byteLength; i += i < hlen ? 3 : 211) {
      const bad = good.slice();
      bad[i] = bad[i]! ^ 0xa5;
      const err = await decompressPlanesAsync(bad).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StrataError);
      expect((err as StrataError).code).toBe("CORRUPT_DATA");
    }
  });
});

describe("corrupt containers are rejected", () => {
  const bytes = bytesOf(f32ToBf16(normal(10_000, 0.02, 5)));
  const good = compressPlanes(bytes, "BF16");
  const hlen = inspectPlanes(good).headerLength;

  test("every single-byte change anywhere is caught", () => {
    for (let i = 0; i < good.byteLength; i += i < hlen ? 1 : 97) {
      const bad = good.slice();
      bad[i] = bad[i]! ^ 0x5a;
      expect(code(() => decompressPlanes(bad))).toBe("CORRUPT_DATA");
    }
  });

  test("every truncation and an appended byte are caught", () => {
    for (let n = 0; n < good.byteLength; n += n < hlen + 8 ? 1 : 501) {
      expect(code(() => decompressPlanes(good.subarray(0, n)))).toBe("CORRUPT_DATA");
    }
    const longer = new Uint8Array(good.byteLength + 1);
    longer.set(good);
    expect(code(() => decompressPlanes(longer))).toBe("CORRUPT_DATA");
  });

  test("header fields that pass the CRC but lie are caught", () => {
    const forge = (edit: (c: Uint8Array, dv: DataView) => void) => {
      const c = good.slice();
      edit(c, new DataView(c.buffer));
      return code(() => decompressPlanes(resealHeader(c)));
    };
    expect(forge((c) => (c[4] = 2))).toBe("CORRUPT_DATA"); // version
    expect(forge((c) => (c[5] = 200))).toBe("CORRUPT_DATA"); // dtype code
    expect(forge((c) => (c[5] = 0))).toBe("CORRUPT_DATA"); // U8 has 1 plane, header says 2
    expect(forge((c) => (c[7] = 1))).toBe("CORRUPT_DATA"); // flags
    expect(forge((c) => (c[16] = 9))).toBe("CORRUPT_DATA"); // codec id
    expect(forge((c) => (c[17] = 1))).toBe("CORRUPT_DATA"); // reserved
    expect(forge((_, dv) => dv.setBigUint64(8, 10_001n, true))).toBe("CORRUPT_DATA"); // count + 1
    expect(forge((_, dv) => dv.setBigUint64(8, 9_999n, true))).toBe("CORRUPT_DATA"); // count - 1: stream too long
    expect(forge((_, dv) => dv.setBigUint64(8, 1n << 40n, true))).toBe("CORRUPT_DATA"); // huge count, no huge allocation
    expect(forge((_, dv) => dv.setBigUint64(8, 1n << 60n, true))).toBe("CORRUPT_DATA");
    expect(forge((_, dv) => dv.setUint32(20, dv.getUint32(20, true) ^ 1, true))).toBe("CORRUPT_DATA"); // plane CRC
  });

  test("bad magic, short input, misaligned input, unknown dtype", () => {
    expect(code(() => decompressPlanes(new Uint8Array(0)))).toBe("CORRUPT_DATA");
    expect(code(() => decompressPlanes(new TextEncoder().encode("not a plane container at all")))).toBe("CORRUPT_DATA");
    expect(code(() => compressPlanes(new Uint8Array(3), "BF16"))).toBe("BAD_REQUEST");
    expect(code(() => compressPlanes(new Uint8Array(4), "Q8" as Dtype))).toBe("UNKNOWN_DTYPE");
  });
});
