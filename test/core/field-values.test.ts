// The one rule for record field values (core/log/field-values.ts) that the HTTP and QUIC publish
// schemas share: what passes is a log value the codec stores and every reader reads back.
import { describe, expect, test } from "bun:test";
import { ExtData } from "@msgpack/msgpack";
import { StrataError } from "../../core/errors.ts";
import { makeArtefactRef, makeTensor } from "../../core/log/extensions.ts";
import { fieldMapProblem, isFieldMap } from "../../core/log/field-values.ts";
import { fromJsonFields } from "../../core/log/json-value.ts";
import { parsePublishRequest, publishBodySchema, toPublishRequest } from "../../core/log/publish-request.ts";

const limits = { maxBatchRecords: 10, maxHeaders: 4, maxKeyBytes: 16 };
const data = new Uint8Array(8);
const tensor = makeTensor("f32", [2], data);
const ref = makeArtefactRef("ab".repeat(32), 1, "text/plain");

describe("isFieldMap", () => {
  test("every log value, in arrays and maps, and maps without a prototype", () => {
    const bare: Record<string, unknown> = Object.create(null);
    bare.x = 1;
    expect(isFieldMap({ n: 1.5, i: -3, big: 2n ** 60n, s: "", b: false, none: null, bin: data, t: tensor, r: ref, list: [[1, "a"], { m: [null] }], bare })).toBe(true);
    expect(isFieldMap({})).toBe(true);
  });

  test("anything else a decoder or a caller can hand over is refused, naming where it is", () => {
    const cases: [unknown, string][] = [
      [{ d: new Date(0) }, "d is a Date (a MessagePack timestamp)"],
      [{ a: [0, new ExtData(-2, data)] }, "a[1] is an unregistered MessagePack extension (type -2)"],
      [{ m: { inner: new Map() } }, "m.inner is a Map"],
      [{ u: undefined }, "u is undefined"],
      [{ f: () => 1 }, "f is a function"],
      [{ s: Symbol("x") }, "s is a symbol"],
      [{ i8: new Int8Array(2) }, "i8 is an Int8Array"],
    ];
    for (const [fields, problem] of cases) {
      expect(isFieldMap(fields)).toBe(false);
      expect(fieldMapProblem(fields)).toStartWith(problem);
    }
    for (const notMap of [null, 1, "x", [], data, new Date(0)]) {
      expect(isFieldMap(notMap)).toBe(false);
      expect(fieldMapProblem(notMap)).toStartWith("must be a map of field values");
    }
  });

  test("a map whose kind is tensor or artefact is written as that extension, so it must be a valid one with only its keys", () => {
    expect(isFieldMap({ m: { kind: "tensor", dtype: "f32", shape: [2], data } })).toBe(true);
    expect(isFieldMap({ m: { kind: "artefact", manifest: "ab".repeat(32), size: 1, mediaType: "text/plain" } })).toBe(true);
    // Each of these would be stored as a malformed extension that fails every read of its page.
    const malformed = [
      { kind: "tensor", n: 1 },
      { kind: "tensor", dtype: "x".repeat(40), shape: [2], data },
      { kind: "tensor", dtype: "f32", shape: [2], data, extra: 1 },
      { kind: "artefact", manifest: "zz", size: 1, mediaType: "" },
    ];
    for (const m of malformed) {
      expect(isFieldMap({ m })).toBe(false);
      expect(fieldMapProblem({ m })).toStartWith(`m is a map whose kind is "${m.kind}" is written as a`);
    }
    // The fields map itself is never an extension value; other kinds are plain maps.
    expect(isFieldMap(tensor)).toBe(false);
    expect(isFieldMap({ kind: "click", at: [1, { kind: "artefacts" }] })).toBe(true);
  });

  test("values nested far deeper than any call stack are refused without overflowing it; the error shows the end of the path", () => {
    // JSON reads serve values 32 deep below the fields: 31 arrays around a number, no more.
    let fits: unknown = 1;
    for (let i = 0; i < 31; i++) fits = [fits];
    expect(isFieldMap({ fits })).toBe(true);
    expect(isFieldMap({ fits: [fits] })).toBe(false);
    expect(isFieldMap({ fits: [[]] })).toBe(true);
    let deep: unknown = [1];
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(isFieldMap({ deep })).toBe(false);
    let bad: unknown = [new Date(0)];
    for (let i = 0; i < 200_000; i++) bad = { inner: bad };
    expect(isFieldMap({ bad })).toBe(false);
    // The keys are the peer's, so the path in the error is bounded.
    expect(fieldMapProblem({ bad })).toBe(`bad${".inner".repeat(32)} nests deeper than 32 levels below the fields, deeper than JSON reads serve`);
  });

  test("numbers are finite: NaN and ±Infinity are refused, naming where they are", () => {
    for (const n of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(isFieldMap({ a: [{ n }] })).toBe(false);
      expect(fieldMapProblem({ a: [{ n }] })).toStartWith(`a[0].n is a non-finite number (${n})`);
    }
  });
});

describe("the publish conversion applies it to both body forms", () => {
  test("MessagePack fields are taken as validated; a non-log value is BAD_REQUEST naming the record and field", () => {
    const body = publishBodySchema.parse({ records: [{ fields: { t: tensor, b: data } }] });
    expect(toPublishRequest(body, "msgpack", limits).records[0]!.fields).toEqual({ t: tensor, b: data });
    expect(() => parsePublishRequest({ records: [{ fields: {} }, { fields: { when: new Date(0) } }] }, "msgpack", limits)).toThrow(
      new StrataError("BAD_REQUEST", "publish request: records[1].fields: when is a Date (a MessagePack timestamp); field values are nil, booleans, numbers, strings, bytes, Tensors, ArtefactRefs, and arrays and maps of these"),
    );
  });

  test("JSON fields: tags become values, a fields object that is one tagged value is refused", () => {
    const request = parsePublishRequest({ records: [{ fields: { b: { $base64: "AQI=" }, t: { $tensor: { dtype: "f32", shape: [2], data: { $base64: "AAAAAAAAAAA=" } } } } }] }, "json", limits);
    expect(request.records[0]!.fields).toEqual({ b: new Uint8Array([1, 2]), t: tensor });
    expect(() => fromJsonFields({ $base64: "AQI=" })).toThrow("fields must be a map of fields, not the tagged value $base64");
    expect(fromJsonFields({ $base64: "AQI=", other: 1 })).toEqual({ $base64: "AQI=", other: 1 });
  });
});
