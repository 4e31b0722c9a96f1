import { expect, test } from "bun:test";
import { StrataError } from "../../core/errors.ts";
import { makeArtefactRef, makeTensor } from "../../core/log/extensions.ts";
import { fromJsonValue, toJsonValue } from "../../core/log/json-value.ts";
import { parsePublishRequest } from "../../core/log/publish-request.ts";
import { assertStreamName, isValidStreamName } from "../../core/log/stream-name.ts";

const limits = { maxBatchRecords: 10, maxHeaders: 4, maxKeyBytes: 16 };

test("bytes, tensors and artefact refs survive the JSON form both ways", () => {
  const value = {
    bin: new Uint8Array([0, 1, 254, 255]),
    t: makeTensor("bf16", [1, 2], new Uint8Array([1, 2, 3, 4])),
    a: makeArtefactRef("0f".repeat(32), 10, "text/plain"),
    nested: [{ x: new Uint8Array([7]) }, "s", 1.5, null],
  };
  const json = JSON.parse(JSON.stringify(toJsonValue(value)));
  expect(json.bin).toEqual({ $base64: "AAH+/w==" });
  expect(fromJsonValue(json)).toEqual(value);
});

test("unknown or malformed tags are rejected", () => {
  for (const bad of [{ $oops: 1 }, { $base64: "not base64!" }, { $base64: 12 }, { $tensor: { dtype: "f32", shape: [-1], data: { $base64: "" } } }, { $artefact: { manifest: "xyz", size: 1, mediaType: "" } }]) {
    expect(() => fromJsonValue(bad)).toThrow(StrataError);
  }
  let deep: unknown = 1;
  for (let i = 0; i < 100; i++) deep = [deep];
  expect(() => fromJsonValue(deep)).toThrow(/deeper/);
});

test("publish requests are validated field by field", () => {
  const ok = parsePublishRequest({ records: [{ key: "k", headers: { h: "v" }, fields: { a: 1 } }], producer: { id: 1, epoch: 0, seq: 0 } }, "json", limits);
  expect(ok.records[0]!.key).toEqual(new TextEncoder().encode("k"));
  expect(ok.producer).toEqual({ id: 1, epoch: 0, seq: 0 });
  const bad: unknown[] = [
    null,
    [],
    { records: [] },
    { records: "x" },
    { records: [1] },
    { records: [{ fields: [] }] },
    { records: [{ fields: {}, partition: -1 }] },
    { records: [{ fields: {}, partition: 1.5 }] },
    { records: [{ fields: {}, key: 5 }] },
    { records: [{ fields: {}, headers: { a: 1 } }] },
    { records: [{ fields: {}, headers: { a: "1", b: "", c: "", d: "", e: "" } }] },
    { records: [{ fields: {}, key: "x".repeat(17) }] },
    { records: Array.from({ length: 11 }, () => ({ fields: {} })) },
    { records: [{ fields: {} }], producer: { id: -1, epoch: 0, seq: 0 } },
    { records: [{ fields: {} }], producer: { id: 1, epoch: 70000, seq: 0 } },
    { records: [{ fields: {} }], producer: { id: 1, epoch: 0, seq: 2 ** 32 } },
  ];
  for (const body of bad) expect(() => parsePublishRequest(body, "json", limits)).toThrow(StrataError);
});

test("stream names are identifiers, never paths", () => {
  for (const good of ["a", "models/detector", "cam-1.frames_v2", "a/b/c", "0"]) expect(isValidStreamName(good)).toBe(true);
  for (const bad of ["", "../x", "a//b", "/a", "a/", "A", "a b", ".hidden", "a/../b", "x".repeat(201), "a/-b", "é"]) {
    expect(isValidStreamName(bad)).toBe(false);
    expect(() => assertStreamName(bad)).toThrow(StrataError);
  }
});
