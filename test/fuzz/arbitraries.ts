// fast-check arbitraries shared by the fuzz suites and bench/fuzz.ts: MessagePack values (with
// the log's extension types), JSON values with the tagged forms, and byte mutations that turn a
// valid encoding into a nearly valid one (the inputs that reach deep into a decoder).
import fc from "fast-check";
import { Encoder } from "@msgpack/msgpack";
import { extensionCodec } from "../../core/log/extensions.ts";
import type { Value } from "../../core/log/record.ts";

// Deep enough for the nesting the arbitraries build (the default stops at 100).
const encoder = new Encoder({ extensionCodec, ignoreUndefined: true, maxDepth: 1000 });

export function encodeMsgpackValue(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/** Numbers a decoder must survive: edges of every MessagePack width, non-finite doubles, -0. */
export const edgeNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.constantFrom(0, -0, 1, -1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 1e308, Number.MAX_VALUE),
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
);

const DTYPES = ["F32", "F16", "BF16", "F64", "I8", "U8", "I16", "I32", "I64", "BOOL", "f32", "bf16", "XX9", "", "F8_E4M3"];

const ELEMENT_BYTES: Readonly<Record<string, number>> = { F64: 8, F32: 4, F16: 2, BF16: 2, I8: 1, U8: 1, I16: 2, I32: 4, I64: 8, BOOL: 1 };

/** A tensor whose data fits its dtype and shape (the usual case), or any dtype, shape and data. */
const tensorValue = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...Object.keys(ELEMENT_BYTES)), fc.array(fc.nat(4), { maxLength: 3 })).map(([dtype, shape]) => ({ kind: "tensor" as const, dtype, shape, data: new Uint8Array(shape.reduce((n, d) => n * d, 1) * ELEMENT_BYTES[dtype]!) })) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("tensor" as const),
      dtype: fc.constantFrom(...DTYPES).filter((d) => d.length > 0),
      shape: fc.array(fc.nat(8), { maxLength: 4 }),
      data: fc.uint8Array({ maxLength: 64 }),
    }),
  },
);

/** Mostly ordinary finite numbers, sometimes an edge case. */
const fieldNumber = fc.oneof({ weight: 6, arbitrary: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })) }, { weight: 1, arbitrary: edgeNumber });

const artefactValue = fc.record({
  kind: fc.constant("artefact" as const),
  manifest: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")),
  size: fc.nat(),
  mediaType: fc.string({ maxLength: 40 }),
});

/** A log value (what a record's field may hold), nested a few levels. */
export const logValue: fc.Arbitrary<Value> = fc.letrec<{ value: Value }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fieldNumber,
    fc.string({ maxLength: 20 }),
    fc.uint8Array({ maxLength: 32 }),
    tensorValue,
    artefactValue,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie("value"), { maxKeys: 4 }),
  ),
})).value;

export const fieldsValue: fc.Arbitrary<Record<string, Value>> = fc.dictionary(fc.string({ maxLength: 10 }), logValue, { maxKeys: 5 });

/** Arrays (or maps) nested `n` deep around a scalar: the depth limits' edge cases. */
export function nested(depth: number, asMap: boolean): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = asMap ? { d: v } : [v];
  return v;
}

export const deepValue: fc.Arbitrary<unknown> = fc.tuple(fc.nat(130), fc.boolean()).map(([n, m]) => nested(n, m));

/** JSON values a client may send: plain JSON, tagged values (valid and not), deep nesting. */
export const jsonishValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.jsonValue({ maxDepth: 2 }),
    fc.record({ $base64: fc.oneof(fc.base64String({ maxLength: 24 }), fc.string({ maxLength: 10 }), fc.integer()) }),
    fc.record({ $tensor: fc.record({ dtype: fc.oneof(fc.constantFrom(...DTYPES), fc.integer()), shape: fc.oneof(fc.array(fc.oneof(fc.nat(8), fc.double()), { maxLength: 4 }), fc.string()), data: fc.oneof(fc.record({ $base64: fc.base64String({ maxLength: 24 }) }), fc.string()) }, { requiredKeys: [] }) }),
    fc.record({ $artefact: fc.record({ manifest: fc.oneof(artefactValue.map((a) => a.manifest), fc.string()), size: fc.oneof(fc.nat(), fc.double(), fc.string()), mediaType: fc.oneof(fc.string({ maxLength: 10 }), fc.nat()) }, { requiredKeys: [] }) }),
    fc.record({ [`$x`]: fc.jsonValue({ maxDepth: 1 }) }),
    deepValue,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie("value"), { maxKeys: 4 }),
  ),
})).value;

/** One edit of a byte string. Interesting bytes are MessagePack type bytes that claim lengths. */
type Mutation =
  | { readonly kind: "set"; readonly at: number; readonly byte: number }
  | { readonly kind: "insert"; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: "delete"; readonly at: number; readonly length: number }
  | { readonly kind: "truncate"; readonly at: number }
  | { readonly kind: "duplicate"; readonly at: number; readonly length: number };

const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x8f, 0x9f, 0xc1, 0xc4, 0xc6, 0xc9, 0xcb, 0xd4, 0xd8, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0x92, 0x94, 0xff];

const position = fc.double({ min: 0, max: 1, noNaN: true });

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), at: position.map((p) => p), byte: fc.oneof(fc.constantFrom(...INTERESTING_BYTES), fc.nat(255)) }).map((m) => m as Mutation),
  fc.record({ kind: fc.constant("insert" as const), at: position, bytes: fc.oneof(fc.uint8Array({ maxLength: 8 }), fc.constantFrom(Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff), Uint8Array.of(0xdf, 0x7f, 0xff, 0xff, 0xff), Uint8Array.of(0xc6, 0xff, 0xff, 0xff, 0xf0))) }),
  fc.record({ kind: fc.constant("delete" as const), at: position, length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: position }),
  fc.record({ kind: fc.constant("duplicate" as const), at: position, length: fc.integer({ min: 1, max: 16 }) }),
);

function applyMutation(bytes: Uint8Array, m: Mutation): Uint8Array {
  const at = Math.floor((m as { at: number }).at * bytes.length);
  switch (m.kind) {
    case "set": {
      if (bytes.length === 0) return bytes;
      const out = bytes.slice();
      out[Math.min(at, out.length - 1)] = m.byte;
      return out;
    }
    case "insert":
      return concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
    case "delete":
      return concat([bytes.subarray(0, at), bytes.subarray(at + m.length)]);
    case "truncate":
      return bytes.subarray(0, at);
    case "duplicate":
      return concat([bytes.subarray(0, at + m.length), bytes.subarray(at)]);
  }
}

/** The parts back to back, as a plain Uint8Array (slice() copies, unlike a Buffer's). */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const joined = Buffer.concat(parts);
  return new Uint8Array(joined.buffer, joined.byteOffset, joined.length);
}

/** `valid` bytes with 1..4 mutations, or none a third of the time (valid inputs reach the end of the decoder). */
export function mutated(valid: fc.Arbitrary<Uint8Array>, maxMutations = 4): fc.Arbitrary<Uint8Array> {
  const mutations = fc.oneof({ arbitrary: fc.constant([]), weight: 1 }, { arbitrary: fc.array(mutation, { minLength: 1, maxLength: maxMutations }), weight: 2 });
  return fc.tuple(valid, mutations).map(([bytes, ms]) => ms.reduce(applyMutation, bytes));
}

/** Structure-aware (a valid encoding, mutated) or raw bytes, about 4 to 1. */
export function bytesLike(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.oneof({ arbitrary: mutated(valid), weight: 4 }, { arbitrary: fc.uint8Array({ maxLength: 256 }), weight: 1 });
}

/** Ways to cut a byte string into pieces (as a network delivers it). */
export const splitPoints: fc.Arbitrary<number[]> = fc.array(position, { maxLength: 4 });

export function splitAt(bytes: Uint8Array, points: readonly number[]): Uint8Array[] {
  const cuts = [...new Set(points.map((p) => Math.floor(p * bytes.length)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const c of cuts) {
    pieces.push(bytes.subarray(start, c));
    start = c;
  }
  pieces.push(bytes.subarray(start));
  return pieces;
}
