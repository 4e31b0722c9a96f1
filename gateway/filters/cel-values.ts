// The log model's values as CEL sees them (docs/filters.md, "Variables"): integers are int,
// other numbers double, bytes are bytes, maps are CEL maps and lists CEL lists. A Tensor is the
// map {kind: "tensor", dtype, shape, size} (size in bytes; its data is not exposed) and an
// ArtefactRef the map {kind: "artefact", manifest, size, mediaType}.
import { celUint, type CelInput } from "@bufbuild/cel";
import type { ArtefactRef, Headers, Tensor, Value } from "../../core/log/record.ts";

type ValueMap = { readonly [field: string]: Value };
// The codec writes every map whose kind is "tensor" or "artefact" as that extension value
// (core/log/field-values.ts), so a decoded map with such a kind is one.
// Array.isArray does not narrow a readonly array type.
const isList = (v: Value): v is readonly Value[] => Array.isArray(v);
const isTensor = (v: Tensor | ArtefactRef | ValueMap): v is Tensor => v.kind === "tensor";
const isArtefactRef = (v: Tensor | ArtefactRef | ValueMap): v is ArtefactRef => v.kind === "artefact";

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** One value of the log model as a CEL input. */
export function celValue(value: Value): CelInput {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  // MessagePack keeps integers and floats apart but a whole float decodes to the same JS number
  // as an integer: a whole number is an int. CEL compares int and double across types, so
  // `fields.score > 0.5` holds for a score stored as 1 or as 1.0 alike.
  if (typeof value === "number") return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (typeof value === "bigint") return bigintValue(value);
  if (value instanceof Uint8Array) return value;
  if (isList(value)) return value.map(celValue);
  if (isTensor(value)) {
    return new Map<string, CelInput>([
      ["kind", "tensor"],
      ["dtype", value.dtype],
      ["shape", value.shape.map((d) => BigInt(d))],
      ["size", BigInt(value.data.length)],
    ]);
  }
  if (isArtefactRef(value)) {
    return new Map<string, CelInput>([
      ["kind", "artefact"],
      ["manifest", value.manifest],
      ["size", BigInt(value.size)],
      ["mediaType", value.mediaType],
    ]);
  }
  return celMapOf(value);
}

/** A string-keyed map of values (the fields map, a nested map) as a CEL map. */
export function celMapOf(map: ValueMap): Map<string, CelInput> {
  const out = new Map<string, CelInput>();
  for (const name in map) if (Object.hasOwn(map, name)) out.set(name, celValue(map[name]!));
  return out;
}

/** The named entries of a fields map only (those an expression reads). */
export function celMapOfNames(map: ValueMap, names: ReadonlySet<string>): Map<string, CelInput> {
  const out = new Map<string, CelInput>();
  for (const name of names) if (Object.hasOwn(map, name)) out.set(name, celValue(map[name]!));
  return out;
}

export function celHeaders(headers: Headers): Map<string, CelInput> {
  const out = new Map<string, CelInput>();
  for (const name in headers) if (Object.hasOwn(headers, name)) out.set(name, headers[name]!);
  return out;
}

function bigintValue(value: bigint): CelInput {
  if (value >= INT64_MIN && value <= INT64_MAX) return value;
  if (value > INT64_MAX && value <= UINT64_MAX) return celUint(value);
  return Number(value);
}
