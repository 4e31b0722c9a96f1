// Untrusted MessagePack is walked before it is decoded: claims beyond the bytes, lengths over the
// caps, nesting past the depth, and trailing bytes are BAD_REQUEST before the library allocates.
import { describe, expect, test } from "bun:test";
import { encode } from "@msgpack/msgpack";
import { StrataError } from "../../core/errors.ts";
import { extensionCodec, makeArtefactRef, makeTensor, TENSOR_EXT_TYPE } from "../../core/log/extensions.ts";
import { BoundedMsgpackDecoder, checkMsgpackBounds, msgpackCapsFor, type MsgpackCaps } from "../../core/log/msgpack-bounds.ts";

const caps: MsgpackCaps = msgpackCapsFor(1024 * 1024);

function refusal(bytes: Uint8Array, with_: MsgpackCaps = caps): string {
  try {
    checkMsgpackBounds(bytes, with_);
  } catch (e) {
    if (e instanceof StrataError && e.code === "BAD_REQUEST") return e.message;
    throw e;
  }
  throw new Error("expected the bytes to be refused");
}

/** `depth` arrays, each holding the next, the innermost holding `inner`. */
function nested(depth: number, inner: unknown = 1): unknown {
  let value = inner;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

function array32Headers(count: number, claimed: number): Uint8Array {
  const out = new Uint8Array(count * 5);
  const view = new DataView(out.buffer);
  for (let i = 0; i < count; i++) {
    out[i * 5] = 0xdd;
    view.setUint32(i * 5 + 1, claimed);
  }
  return out;
}

describe("well-formed values pass and decode as the library decodes them", () => {
  const tensor = makeTensor("f32", [2, 2], new Uint8Array(16).fill(7));
  const values: unknown[] = [
    null,
    true,
    -1,
    2 ** 40,
    -(2 ** 40),
    1.5,
    "x".repeat(40),
    "y".repeat(300),
    "z".repeat(70_000),
    new Uint8Array(300),
    new Uint8Array(70_000),
    [],
    {},
    Array.from({ length: 20 }, (_, i) => i * 1000),
    Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, { n: i, s: "v" }])),
    { records: [{ key: new Uint8Array([1, 2]), fields: { t: tensor, a: makeArtefactRef("a".repeat(64), 10, "application/octet-stream"), deep: nested(30) } }] },
    BigInt("18446744073709551615"),
  ];
  for (const value of values) {
    test(typeof value === "object" && value !== null ? `${value.constructor.name} ${JSON.stringify(value, (_, v) => (typeof v === "bigint" ? String(v) : v))?.slice(0, 40)}` : String(value).slice(0, 40), () => {
      const bytes = encode(value, { extensionCodec, useBigInt64: true });
      const decoder = new BoundedMsgpackDecoder(caps);
      expect(decoder.decode(bytes)).toEqual(new BoundedMsgpackDecoder({ ...caps, maxDepth: 1000 }).decode(bytes));
      // Every proper prefix is a truncated value.
      for (const cut of [0, 1, Math.floor(bytes.length / 2), bytes.length - 1]) {
        if (cut < bytes.length) expect(refusal(bytes.subarray(0, cut))).toContain("malformed MessagePack");
      }
    });
  }
});

describe("hostile input is refused before anything is allocated for it", () => {
  test("nested array32 headers each claiming millions of elements (once: gigabytes for a few hundred bytes)", () => {
    expect(refusal(array32Headers(100, 1_000_000))).toContain("truncated");
    expect(refusal(array32Headers(1, 4_000_000_000), { ...caps, maxArrayLength: 2 ** 32 })).toContain("truncated");
  });

  test("a map claiming more entries than bytes follow", () => {
    expect(refusal(new Uint8Array([0xdf, 0x00, 0x00, 0x01, 0x00, 0xc0, 0xc0]))).toContain("truncated");
  });

  test("lengths over the caps", () => {
    const small: MsgpackCaps = { maxDepth: 8, maxStrLength: 10, maxBinLength: 10, maxExtLength: 10, maxArrayLength: 3, maxMapLength: 2 };
    expect(refusal(encode("x".repeat(11)), small)).toContain("a string of 11 bytes is over the 10-byte limit");
    expect(refusal(encode(new Uint8Array(11)), small)).toContain("a bin of 11 bytes is over the 10-byte limit");
    expect(refusal(encode([1, 2, 3, 4]), small)).toContain("an array of 4 entries is over the limit of 3");
    expect(refusal(encode({ a: 1, b: 2, c: 3 }), small)).toContain("a map of 3 entries is over the limit of 2");
    expect(refusal(encode(makeTensor("u8", [11], new Uint8Array(11)), { extensionCodec }), small)).toContain("extension");
  });

  test("nesting past the depth, in containers and inside extension payloads", () => {
    expect(() => checkMsgpackBounds(encode(nested(36)), caps)).not.toThrow();
    expect(refusal(encode(nested(37)))).toContain("containers nest deeper than 36");
    const deepInTensor = encode(nested(30, makeTensor("u8", [1], new Uint8Array(1))), { extensionCodec });
    expect(refusal(deepInTensor, { ...caps, maxDepth: 31 })).toContain("nest deeper");
  });

  test("an extension payload of a log type is itself checked", () => {
    // A Tensor extension whose payload claims a million-element array.
    const payload = array32Headers(1, 1_000_000);
    const ext = new Uint8Array([0xc7, payload.length, TENSOR_EXT_TYPE, ...payload]);
    expect(refusal(ext)).toContain("truncated");
  });

  test("trailing bytes and never-used type bytes", () => {
    expect(refusal(new Uint8Array([0xc0, 0xc0]))).toContain("1 bytes after the value");
    expect(refusal(new Uint8Array([0xc1]))).toContain("byte 0xc1 at 0 starts no value");
    expect(refusal(new Uint8Array([]))).toContain("truncated");
  });

  test("random bytes: only BAD_REQUEST or a value, never another error", () => {
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0);
    const decoder = new BoundedMsgpackDecoder(msgpackCapsFor(4096));
    for (let round = 0; round < 5000; round++) {
      const bytes = Uint8Array.from({ length: 1 + (next() % 64) }, () => next() & 0xff);
      try {
        decoder.decode(bytes);
      } catch (e) {
        expect(e).toBeInstanceOf(StrataError);
        expect((e as StrataError).code).toBe("BAD_REQUEST");
      }
    }
  });
});
