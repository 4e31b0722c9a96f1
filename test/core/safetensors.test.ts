import { describe, expect, test } from "bun:test";
import { StrataError } from "../../core/errors.ts";
import { parseSafetensorsHeader, readSafetensors, type TensorInput, writeSafetensors } from "../../core/tensors/safetensors.ts";

/** Builds a file from a raw header string (no padding added) and a data section. */
function rawFile(header: string, data: Uint8Array = new Uint8Array(0), declared?: bigint): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declared ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof StrataError) return e.code;
    throw e;
  }
  return "no error";
}

describe("safetensors writer", () => {
  test("matches the reference layout byte for byte", () => {
    // The reference serialises {"test": I32 [2,2] zeros} to this header, padded with spaces to 8.
    const out = writeSafetensors({ test: { dtype: "I32", shape: [2, 2], data: new Int32Array(4) } });
    const header = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';
    const padded = header + " ".repeat((8 - (header.length % 8)) % 8);
    expect(out.length).toBe(8 + padded.length + 16);
    expect(new DataView(out.buffer).getBigUint64(0, true)).toBe(BigInt(padded.length));
    expect(new TextDecoder().decode(out.subarray(8, 8 + padded.length))).toBe(padded);
  });

  test("aligns every tensor to its element size and round-trips zero-copy", () => {
    const f64 = new Float64Array([1.5, -2.25, Math.PI]);
    const u8 = new Uint8Array([1, 2, 3]);
    const f32 = new Float32Array([0.5, 7]);
    const i64 = new BigInt64Array([-5n, 1n << 62n]);
    const bf16 = new Uint16Array([0x3f80, 0xbf80, 0x7fc0]);
    const out = writeSafetensors(
      {
        b: { dtype: "U8", shape: [3], data: u8 },
        a: { dtype: "F64", shape: [3], data: f64 },
        c: { dtype: "F32", shape: [1, 2], data: f32 },
        d: { dtype: "I64", shape: [2], data: i64 },
        e: { dtype: "BF16", shape: [3], data: bf16 },
        empty: { dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
      },
      { format: "pt", note: "hé" },
    );
    const file = readSafetensors(out);
    expect(file.metadata).toEqual({ format: "pt", note: "hé" });
    expect(file.dataStart % 8).toBe(0);
    for (const t of file.tensors) {
      expect(t.bytes.buffer).toBe(out.buffer); // zero-copy
      expect((file.dataStart + t.begin) % t.array().BYTES_PER_ELEMENT).toBe(0);
    }
    expect([...file.get("a")!.array<"F64">()]).toEqual([...f64]);
    expect(file.get("a")!.array().buffer).toBe(out.buffer);
    expect([...file.get("b")!.array<"U8">()]).toEqual([...u8]);
    expect([...file.get("c")!.array<"F32">()]).toEqual([...f32]);
    expect(file.get("c")!.shape).toEqual([1, 2]);
    expect([...file.get("d")!.array<"I64">()]).toEqual([...i64]);
    expect([...file.get("e")!.array<"BF16">()]).toEqual([...bf16]);
    expect(file.get("empty")!.array().length).toBe(0);
    expect(writeSafetensors(file.tensors.map((t): [string, TensorInput] => [t.name, { dtype: t.dtype, shape: t.shape, data: t.bytes }]), file.metadata)).toEqual(out);
  });

  test("an empty file is a valid file", () => {
    const out = writeSafetensors({});
    expect(readSafetensors(out).tensors).toEqual([]);
  });

  test("rejects data whose length does not match the shape", () => {
    expect(code(() => writeSafetensors({ x: { dtype: "F32", shape: [3], data: new Float32Array(2) } }))).toBe("BAD_REQUEST");
    expect(code(() => writeSafetensors({ x: { dtype: "Q4" as "F32", shape: [1], data: new Uint8Array(1) } }))).toBe("UNKNOWN_DTYPE");
    expect(code(() => writeSafetensors([["__metadata__", { dtype: "U8", shape: [0], data: new Uint8Array(0) }]]))).toBe("BAD_REQUEST");
  });

  test("a tensor named __proto__ survives", () => {
    const out = writeSafetensors([["__proto__", { dtype: "U8", shape: [1], data: new Uint8Array([9]) }]]);
    expect([...readSafetensors(out).get("__proto__")!.bytes]).toEqual([9]);
  });
});

describe("safetensors header parser", () => {
  test("works on just the header prefix", () => {
    const out = writeSafetensors({
      w: { dtype: "F32", shape: [4], data: new Float32Array(4) },
      v: { dtype: "F16", shape: [2], data: new Uint16Array(2) },
    });
    const h = parseSafetensorsHeader(out);
    const prefix = out.subarray(0, h.dataStart);
    const p = parseSafetensorsHeader(prefix);
    expect(p.tensors.map((t) => [t.name, t.dtype, t.begin, t.end])).toEqual([
      ["w", "F32", 0, 16],
      ["v", "F16", 16, 20],
    ]);
    expect(p.dataLength).toBe(20);
    expect(p.headerLength).toBe(h.headerLength);
    expect(p.dataStart).toBe(8 + h.headerLength);
  });
});

describe("safetensors hostile input", () => {
  const t = (dtype: string, shape: unknown, offs: unknown) => JSON.stringify({ dtype, shape, data_offsets: offs });
  const cases: Array<[string, Uint8Array, string]> = [
    ["empty buffer", new Uint8Array(0), "INVALID_SAFETENSORS"],
    ["7 bytes", new Uint8Array(7), "INVALID_SAFETENSORS"],
    ["huge header length", rawFile("{}", undefined, 0xffff_ffff_ffff_ffffn), "INVALID_SAFETENSORS"],
    ["header length just over 100 MB", rawFile("{}", undefined, 100_000_001n), "INVALID_SAFETENSORS"],
    ["header length beyond buffer", rawFile("{}", undefined, 50n), "INVALID_SAFETENSORS"],
    ["zero header length", rawFile("", undefined, 0n), "INVALID_SAFETENSORS"],
    ["not JSON", rawFile("{nope"), "INVALID_SAFETENSORS"],
    ["JSON array", rawFile("[1,2]"), "INVALID_SAFETENSORS"],
    ["leading space", rawFile(" {}"), "INVALID_SAFETENSORS"],
    ["JSON null", rawFile("null"), "INVALID_SAFETENSORS"],
    ["bad UTF-8", rawFile("{}").map((b, i) => (i === 9 ? 0xff : b)), "INVALID_SAFETENSORS"],
    ["entry not object", rawFile('{"a":3}'), "INVALID_SAFETENSORS"],
    ["unknown dtype", rawFile(`{"a":${t("F128", [1], [0, 16])}}`, new Uint8Array(16)), "UNKNOWN_DTYPE"],
    ["dtype not string", rawFile(`{"a":${t("x", [1], [0, 4]).replace('"x"', "4")}}`, new Uint8Array(4)), "INVALID_SAFETENSORS"],
    ["negative offset", rawFile(`{"a":${t("U8", [1], [-1, 0])}}`, new Uint8Array(1)), "INVALID_SAFETENSORS"],
    ["fractional offset", rawFile(`{"a":${t("U8", [1], [0.5, 1.5])}}`, new Uint8Array(2)), "INVALID_SAFETENSORS"],
    ["NaN-ish offset (string)", rawFile(`{"a":${t("U8", [1], ["NaN", 1])}}`, new Uint8Array(1)), "INVALID_SAFETENSORS"],
    ["huge offset", rawFile(`{"a":${t("U8", [1], [1e300, 1e300 + 1])}}`, new Uint8Array(1)), "INVALID_SAFETENSORS"],
    ["end before begin", rawFile(`{"a":${t("U8", [0], [4, 0])}}`, new Uint8Array(4)), "INVALID_SAFETENSORS"],
    ["three offsets", rawFile(`{"a":${t("U8", [1], [0, 1, 2])}}`, new Uint8Array(1)), "INVALID_SAFETENSORS"],
    ["negative dim", rawFile(`{"a":${t("U8", [-1], [0, 1])}}`, new Uint8Array(1)), "INVALID_SAFETENSORS"],
    ["shape not array", rawFile(`{"a":${t("U8", 4, [0, 4])}}`, new Uint8Array(4)), "INVALID_SAFETENSORS"],
    ["overflowing shape", rawFile(`{"a":${t("F32", [2 ** 40, 2 ** 40], [0, 4])}}`, new Uint8Array(4)), "INVALID_SAFETENSORS"],
    ["size mismatch", rawFile(`{"a":${t("F32", [2], [0, 4])}}`, new Uint8Array(4)), "INVALID_SAFETENSORS"],
    ["offset past the buffer", rawFile(`{"a":${t("U8", [8], [0, 8])}}`, new Uint8Array(4)), "INVALID_SAFETENSORS"],
    ["trailing bytes", rawFile(`{"a":${t("U8", [4], [0, 4])}}`, new Uint8Array(5)), "INVALID_SAFETENSORS"],
    ["gap", rawFile(`{"a":${t("U8", [4], [0, 4])},"b":${t("U8", [4], [8, 12])}}`, new Uint8Array(12)), "INVALID_SAFETENSORS"],
    ["not starting at 0", rawFile(`{"a":${t("U8", [4], [4, 8])}}`, new Uint8Array(8)), "INVALID_SAFETENSORS"],
    ["overlap", rawFile(`{"a":${t("U8", [4], [0, 4])},"b":${t("U8", [4], [2, 6])}}`, new Uint8Array(6)), "INVALID_SAFETENSORS"],
    ["same range twice", rawFile(`{"a":${t("U8", [4], [0, 4])},"b":${t("U8", [4], [0, 4])}}`, new Uint8Array(4)), "INVALID_SAFETENSORS"],
    ["metadata not object", rawFile('{"__metadata__":[1]}'), "INVALID_SAFETENSORS"],
    ["metadata value not string", rawFile('{"__metadata__":{"a":1}}'), "INVALID_SAFETENSORS"],
  ];
  for (const [name, bytes, expected] of cases) {
    test(name, () => expect(code(() => readSafetensors(bytes))).toBe(expected));
  }

  test("configurable header limit", () => {
    const out = writeSafetensors({ a: { dtype: "U8", shape: [1], data: new Uint8Array(1) } });
    expect(code(() => readSafetensors(out, { maxHeaderBytes: 16 }))).toBe("INVALID_SAFETENSORS");
    expect(readSafetensors(out, { maxHeaderBytes: 1000 }).tensors.length).toBe(1);
  });

  test("every truncation of a valid file is rejected cleanly", () => {
    const out = writeSafetensors({
      a: { dtype: "F32", shape: [2, 3], data: new Float32Array(6) },
      b: { dtype: "BF16", shape: [5], data: new Uint16Array(5) },
    });
    for (let n = 0; n < out.length; n++) expect(code(() => readSafetensors(out.subarray(0, n)))).toBe("INVALID_SAFETENSORS");
  });

  test("random byte flips never crash", () => {
    const out = writeSafetensors({
      a: { dtype: "F32", shape: [2, 3], data: new Float32Array(6) },
      b: { dtype: "I8", shape: [5], data: new Int8Array(5) },
    });
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 3000; i++) {
      const copy = out.slice();
      copy[Math.floor(rnd() * copy.length)] = Math.floor(rnd() * 256);
      try {
        const f = readSafetensors(copy);
        for (const t of f.tensors) expect(t.bytes.length).toBe(t.end - t.begin);
      } catch (e) {
        expect(e).toBeInstanceOf(StrataError);
      }
    }
  });

  test("unaligned input still reads, as a copy", () => {
    const out = writeSafetensors({ a: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) } });
    const shifted = new Uint8Array(out.length + 1).subarray(1);
    shifted.set(out);
    const a = readSafetensors(shifted).get("a")!;
    expect(a.bytes.buffer).toBe(shifted.buffer);
    expect([...a.array<"F32">()]).toEqual([1, 2]);
  });
});
