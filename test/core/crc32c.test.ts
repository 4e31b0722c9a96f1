import { describe, expect, test } from "bun:test";
import { crc32c } from "../../core/hashing/crc32c.ts";
import { StrataError } from "../../core/errors.ts";
import { randomBytes, rng } from "./helpers/random.ts";

/** Bit-at-a-time reference (RFC 3720, appendix B.4 polynomial, reflected). */
function reference(bytes: Uint8Array, seed = 0): number {
  let c = ~seed >>> 0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

const ascii = (s: string) => new TextEncoder().encode(s);

describe("crc32c", () => {
  test("known values", () => {
    expect(crc32c(ascii("123456789"))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(ascii("a"))).toBe(0xc1d04330);
    // RFC 3720 B.4: 32 bytes of zeros, of 0xff, ascending and descending.
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
  });

  test("random inputs of every size class match the bitwise reference (JS and WASM paths)", () => {
    const next = rng(11);
    const sizes = [1, 7, 8, 9, 100, 511, 512, 513, 4096, 65_537, 300_001, (1 << 20) + 3];
    for (let i = 0; i < 40; i++) sizes.push(next() % 5000);
    for (const size of sizes) {
      const bytes = randomBytes(size, size + 3);
      expect(crc32c(bytes)).toBe(reference(bytes));
    }
  });

  test("unaligned subarrays", () => {
    const bytes = randomBytes(10_000, 8);
    for (const start of [1, 3, 5, 7]) {
      const view = bytes.subarray(start, start + 2001);
      expect(crc32c(view)).toBe(reference(view));
    }
  });

  test("streaming via seed equals one shot, for any split", () => {
    const bytes = randomBytes(700_000, 21);
    const whole = crc32c(bytes);
    const next = rng(5);
    for (let round = 0; round < 20; round++) {
      let crc = 0;
      let off = 0;
      while (off < bytes.length) {
        const take = Math.min(bytes.length - off, next() % (round < 10 ? 2000 : 300_000));
        crc = crc32c(bytes.subarray(off, off + take), crc);
        off += take;
      }
      expect(crc).toBe(whole);
    }
  });

  test("bad input gets BAD_REQUEST", () => {
    for (const f of [
      () => crc32c("abc" as unknown as Uint8Array),
      () => crc32c(new Uint8Array(1), -1),
      () => crc32c(new Uint8Array(1), 2 ** 32),
      () => crc32c(new Uint8Array(1), 0.5),
    ]) {
      expect(f).toThrow(StrataError);
    }
  });
});
