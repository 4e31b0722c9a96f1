import { describe, expect, test } from "bun:test";
import {
  Blake3Hasher,
  blake3,
  blake3DeriveKey,
  blake3Hex,
  blake3Keyed,
  bytesToHex,
  hexToBytes,
} from "../../core/hashing/blake3.ts";
import { StrataError } from "../../core/errors.ts";
import { kernels } from "../../core/wasm.ts";
import vectors from "./fixtures/blake3-test-vectors.json";
import { b3sum } from "./helpers/b3sum.ts";
import { randomBytes, randomSplits } from "./helpers/random.ts";

const key = new TextEncoder().encode(vectors.key);

function vectorInput(length: number): Uint8Array {
  const d = new Uint8Array(length);
  for (let i = 0; i < length; i++) d[i] = i % 251;
  return d;
}

describe("BLAKE3 official test vectors", () => {
  for (const c of vectors.cases) {
    test(`input_len ${c.input_len}`, () => {
      const input = vectorInput(c.input_len);
      expect(blake3Hex(input, { length: 131 })).toBe(c.hash);
      expect(blake3Hex(input)).toBe(c.hash.slice(0, 64));
      expect(bytesToHex(blake3Keyed(key, input, { length: 131 }))).toBe(c.keyed_hash);
      expect(bytesToHex(blake3Keyed(key, input))).toBe(c.keyed_hash.slice(0, 64));
      expect(bytesToHex(blake3DeriveKey(vectors.context_string, input, { length: 131 }))).toBe(c.derive_key);
      expect(bytesToHex(blake3DeriveKey(vectors.context_string, input))).toBe(c.derive_key.slice(0, 64));
    });

    test(`input_len ${c.input_len}, streaming in 1..1500-byte pieces`, () => {
      const input = vectorInput(c.input_len);
      for (const step of [1, 63, 64, 65, 1023, 1024, 1500]) {
        const h = Blake3Hasher.create();
        const k = Blake3Hasher.keyed(key);
        const d = Blake3Hasher.deriveKey(vectors.context_string);
        // Interleaved updates make the hashers share the kernel slot in turn.
        for (let off = 0; off < input.length; off += step) {
          const piece = input.subarray(off, off + step);
          h.update(piece);
          k.update(piece);
          d.update(piece);
        }
        expect(h.digestHex(131)).toBe(c.hash);
        expect(k.digestHex(131)).toBe(c.keyed_hash);
        expect(d.digestHex(131)).toBe(c.derive_key);
      }
    });
  }
});

describe("BLAKE3 against b3sum", () => {
  const sizes = [0, 1, 63, 64, 65, 1023, 1024, 1025, 2047, 2048, 2049, 65535, 65536, 65537, (1 << 20) + 7, 100 << 20];
  for (const size of sizes) {
    test(`${size} bytes, random update splits`, () => {
      const input = randomBytes(size, size + 1);
      const expected = b3sum(input);
      expect(blake3Hex(input)).toBe(expected);
      const h = Blake3Hasher.create();
      let off = 0;
      for (const piece of randomSplits(size, size + 7)) {
        h.update(input.subarray(off, off + piece));
        off += piece;
      }
      expect(h.digestHex()).toBe(expected);
    }, 60_000);
  }

  test("extended output of 5000 bytes matches b3sum --length", () => {
    const input = randomBytes(3000, 99);
    expect(blake3Hex(input, { length: 5000 })).toBe(b3sum(input, ["--length", "5000"]));
  });

  test("digest does not end the stream", () => {
    const input = randomBytes(10_000, 5);
    const h = Blake3Hasher.create().update(input.subarray(0, 4000));
    expect(h.digestHex()).toBe(blake3Hex(input.subarray(0, 4000)));
    h.update(input.subarray(4000));
    expect(h.digestHex()).toBe(b3sum(input));
  });
});

describe("BLAKE3 API edges", () => {
  test("strings hash as UTF-8", () => {
    expect(blake3Hex("héllo")).toBe(blake3Hex(new TextEncoder().encode("héllo")));
  });

  test("hex round trip", () => {
    const bytes = randomBytes(33, 1);
    expect(hexToBytes(bytesToHex(bytes))).toEqual(bytes);
    expect(() => hexToBytes("abc")).toThrow(StrataError);
    expect(() => hexToBytes("zz")).toThrow(StrataError);
  });

  test("bad keys, lengths and inputs are rejected with BAD_REQUEST", () => {
    const bad = [
      () => blake3Keyed(new Uint8Array(31), "x"),
      () => Blake3Hasher.keyed(new Uint8Array(33)),
      () => blake3("x", { length: -1 }),
      () => blake3("x", { length: 1.5 }),
      () => blake3("x", { length: 2 ** 40 }),
      () => blake3(42 as unknown as Uint8Array),
      () => Blake3Hasher.create().update(null as unknown as Uint8Array),
    ];
    for (const f of bad) {
      try {
        f();
        throw new Error("expected a StrataError");
      } catch (e) {
        expect(e).toBeInstanceOf(StrataError);
        expect((e as StrataError).code).toBe("BAD_REQUEST");
      }
    }
  });

  test("zero-length output", () => {
    expect(blake3("x", { length: 0 }).length).toBe(0);
  });
});

describe("BLAKE3 kernel variants and memory", () => {
  test("the unrolled 4-way kernel (chosen under V8) agrees with the rolled one", () => {
    const k = kernels() as unknown as { blake3UseUnrolled(on: number): void };
    const input = randomBytes((3 << 20) + 12345, 77);
    const expected = b3sum(input);
    try {
      k.blake3UseUnrolled(1);
      expect(blake3Hex(input)).toBe(expected);
      k.blake3UseUnrolled(0);
      expect(blake3Hex(input)).toBe(expected);
    } finally {
      k.blake3UseUnrolled(typeof process.versions.bun === "string" ? 0 : 1);
    }
  });

  test("streaming 512 MiB does not grow WebAssembly memory", () => {
    const before = kernels().memory.buffer.byteLength;
    const piece = randomBytes(8 << 20, 3);
    const h = Blake3Hasher.create();
    for (let i = 0; i < 64; i++) h.update(piece);
    h.digest();
    expect(kernels().memory.buffer.byteLength).toBe(before);
    expect(before).toBeLessThanOrEqual(64 << 20);
  }, 60_000);
});

describe("Blake3Hasher.updateFrom", () => {
  test("reading straight into the kernel buffer equals update()", () => {
    const input = randomBytes(3_000_000, 12);
    const h = Blake3Hasher.create();
    const other = Blake3Hasher.create();
    let off = 0;
    while (
      h.updateFrom((into) => {
        other.digest(); // another hasher takes the shared slot inside the reader
        const n = Math.min(into.length, 333_333, input.length - off);
        into.set(input.subarray(off, off + n));
        off += n;
        return n;
      }) > 0
    );
    expect(h.digestHex()).toBe(blake3Hex(input));
    expect(() => h.updateFrom(() => -1)).toThrow(StrataError);
    expect(() => h.updateFrom(() => 1e12)).toThrow(StrataError);
  });
});
