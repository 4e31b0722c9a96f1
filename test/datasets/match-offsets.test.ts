// The packed match offsets of filtered versions round-trip exactly (fast-check), cost one byte a
// sample when dense, and refuse truncated or over-long input.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { packOffsets, unpackOffsets } from "../../gateway/datasets/match-offsets.ts";

describe("match offsets", () => {
  test("pack then unpack gives the offsets back", () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), fc.array(fc.nat({ max: 2 ** 33 }), { maxLength: 200 }), (start, gaps) => {
        const offsets: number[] = [];
        let at = start;
        for (const gap of gaps) {
          offsets.push(at + gap);
          at += gap + 1;
        }
        expect(Array.from(unpackOffsets(start, packOffsets(start, offsets), offsets.length))).toEqual(offsets);
      }),
    );
  });

  test("consecutive offsets cost one byte each", () => {
    const offsets = Array.from({ length: 1000 }, (_, i) => 5000 + i);
    expect(packOffsets(5000, offsets).length).toBe(1000);
  });

  test("unordered input is an invariant violation; truncated or trailing bytes are CORRUPT_DATA", () => {
    expect(() => packOffsets(10, [12, 11])).toThrow("invariant");
    expect(() => packOffsets(10, [9])).toThrow("invariant");
    const packed = packOffsets(0, [1, 300, 70_000]);
    expect(() => unpackOffsets(0, packed.subarray(0, packed.length - 1), 3)).toThrow("end after");
    expect(() => unpackOffsets(0, packed, 2)).toThrow("past 2 offsets");
  });
});
