// compileFilter over a table of expressions and records: every expression is judged the same
// way on a decoded record (matches) and on the record located in its stored batch (matchesRaw).
import { describe, expect, test } from "bun:test";
import { StrataError } from "../../core/errors.ts";
import { decodeBatchRecords, encodeBatch, encodeRecord, readBatchHeader, scanBatchRecords, type RawRecord } from "../../core/log/batch.ts";
import { makeArtefactRef, makeTensor } from "../../core/log/extensions.ts";
import type { LogRecord, RecordInput } from "../../core/log/record.ts";
import { compileFilter } from "../../gateway/filters/record-filter.ts";

const utf8 = new TextEncoder();
const TIMESTAMP = 1_700_000_000_000;

const inputs: Record<string, RecordInput> = {
  sample: {
    key: utf8.encode("cam-7"),
    headers: { source: "cam-7", trace: new Uint8Array([1, 2]) },
    fields: { quality_score: 0.95, tags: ["verified", "night"], label: "cat", count: 3, whole: 2.0, meta: { camera: { id: 7, site: "north" } }, blob: new Uint8Array([0xde, 0xad]), flag: true, none: null, big: 2 ** 52 },
  },
  unverified: { key: null, headers: {}, fields: { quality_score: 0.99, tags: ["raw"], label: "dog", count: -1 } },
  low: { key: new Uint8Array([0xff, 0xfe]), headers: { source: "cam-9" }, fields: { quality_score: 0.5, tags: ["verified"], label: "Cat" } },
  extensions: { key: null, headers: {}, fields: { t: makeTensor("f32", [2, 3], new Uint8Array(24)), a: makeArtefactRef("ab".repeat(32), 4096, "application/x-safetensors") } },
};
const names = Object.keys(inputs);

/** The records as stored: one batch, decoded and located. */
function stored(): { decoded: Map<string, LogRecord>; raw: Map<string, RawRecord> } {
  const encoded = names.map((n, i) => encodeRecord({ timestamp: TIMESTAMP + i, ...inputs[n]! }, TIMESTAMP));
  const batch = encodeBatch(encoded, { baseOffset: 0, firstTimestamp: TIMESTAMP, maxTimestamp: TIMESTAMP + names.length, producer: null });
  const header = readBatchHeader(batch)!;
  const decoded = decodeBatchRecords(batch, header);
  const raw = scanBatchRecords(batch, header);
  return { decoded: new Map(names.map((n, i) => [n, decoded[i]!])), raw: new Map(names.map((n, i) => [n, raw[i]!])) };
}

// expression → the records it matches (of sample, unverified, low, extensions)
const table: [string, string[]][] = [
  ['fields.quality_score > 0.9 && "verified" in fields.tags', ["sample"]],
  ["fields.quality_score > 0.9", ["sample", "unverified"]],
  ["fields.quality_score >= 0.5 && fields.quality_score < 0.96", ["sample", "low"]],
  ["fields.count == 3", ["sample"]],
  ["fields.count < 0", ["unverified"]],
  ["fields.count > 2.5", ["sample"]],
  ["fields.whole == 2 && fields.whole == 2.0", ["sample"]],
  ["fields.big == 4503599627370496", ["sample"]],
  ['fields.label == "cat"', ["sample"]],
  ['fields.label.lowerAscii() == "cat"', ["sample", "low"]],
  ['fields.label.startsWith("d")', ["unverified"]],
  ['fields.label.matches("^[Cc]at$")', ["sample", "low"]],
  ['"night" in fields.tags', ["sample"]],
  ["size(fields.tags) == 2", ["sample"]],
  ['fields.tags.exists(t, t.startsWith("ver"))', ["sample", "low"]],
  ['fields.tags.all(t, t != "raw")', ["sample", "low"]],
  ["fields.meta.camera.id == 7", ["sample"]],
  ['fields.meta.camera.site in ["north", "south"]', ["sample"]],
  ["has(fields.meta)", ["sample"]],
  ['"meta" in fields', ["sample"]],
  ["!has(fields.tags)", ["extensions"]],
  ["fields.blob == b'\\xde\\xad'", ["sample"]],
  ["size(fields.blob) == 2", ["sample"]],
  ["fields.flag", ["sample"]],
  ["fields.none == null", ["sample"]],
  ['headers.source == "cam-7"', ["sample"]],
  ['headers.source.startsWith("cam-")', ["sample", "low"]],
  ["headers.trace == b'\\x01\\x02'", ["sample"]],
  ['"source" in headers', ["sample", "low"]],
  ["key == null", ["unverified", "extensions"]],
  ['key == b"cam-7"', ["sample"]],
  ['key_string == "cam-7"', ["sample"]],
  ["key != null && key_string == null", ["low"]],
  [`timestamp == ${TIMESTAMP + 2}`, ["low"]],
  [`timestamp >= ${TIMESTAMP + 1} && timestamp < ${TIMESTAMP + 3}`, ["unverified", "low"]],
  ['timestamp > int(timestamp("2023-11-14T22:13:20Z")) * 1000', ["unverified", "low", "extensions"]],
  ['fields.t.kind == "tensor" && fields.t.dtype == "f32" && fields.t.shape == [2, 3] && fields.t.size == 24', ["extensions"]],
  ['fields.a.kind == "artefact" && fields.a.size == 4096 && fields.a.mediaType == "application/x-safetensors"', ["extensions"]],
  // A record the expression cannot judge does not match: missing fields, type mismatches, non-bool results.
  ["fields.missing > 1", []],
  ["fields.label > 1", []],
  ["fields.quality_score", []],
  ['fields.label + 1 == "cat1"', []],
  ["fields.count / 0 == 1", []],
  ["fields.missing > 1 || fields.count == 3", ["sample"]],
  ["true", names],
  ["false", []],
];

describe("expressions × records", () => {
  const { decoded, raw } = stored();
  for (const [expression, expected] of table) {
    test(expression, () => {
      const filter = compileFilter(expression);
      expect(names.filter((n) => filter.matches(decoded.get(n)!))).toEqual(expected);
      expect(names.filter((n) => filter.matchesRaw(raw.get(n)!))).toEqual(expected);
    });
  }
});

function badFilter(expression: string): StrataError {
  try {
    compileFilter(expression);
  } catch (e) {
    if (e instanceof StrataError) return e;
    throw e;
  }
  throw new Error(`expected BAD_FILTER for ${expression}`);
}

test("bad expressions are BAD_FILTER with their position", () => {
  const cases: [string, string][] = [
    ["fields.x >", "at 1:10"],
    ["fields.x > 1\n  && fields.y = 2", "at 2:15"],
    ["fields.x > 1 &&\n  nope(1)", "at 2:3: unknown function 'nope'"],
    ["quality > 1", "at 1:1: unknown variable 'quality'"],
    ["fields.x > 1 && nope(fields.y)", "at 1:17: unknown function 'nope'"],
    ["fields.l.all(x, fields.m.exists(y, y == x))", "nest at most 1 deep"],
    ["", "filter is empty"],
    ["   ", "filter is empty"],
    ["x".repeat(4097), "filter is 4097 bytes; the limit is 4096"],
  ];
  for (const [expression, message] of cases) {
    const e = badFilter(expression);
    expect(e.code).toBe("BAD_FILTER");
    expect(e.status).toBe(400);
    expect(e.message).toContain(message);
  }
  // Comprehension variables are bound inside their macro only.
  expect(badFilter("fields.l.all(x, x > 0) && x > 0").message).toContain("unknown variable 'x'");
});

test("limits are the caller's", () => {
  const expression = "fields.l.all(x, fields.m.exists(y, y == x))";
  const deeper = compileFilter(expression, { maxFilterBytes: 64, maxFilterComprehensionDepth: 2 });
  expect(deeper.matches({ offset: 0, timestamp: 0, key: null, headers: {}, fields: { l: [1, 2], m: [2, 1] } })).toBe(true);
  try {
    compileFilter(expression, { maxFilterBytes: 32, maxFilterComprehensionDepth: 2 });
    throw new Error("expected BAD_FILTER");
  } catch (e) {
    expect(e instanceof StrataError && e.code === "BAD_FILTER" && e.message.includes("the limit is 32")).toBe(true);
  }
});
