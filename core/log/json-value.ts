// The JSON form of log values. JSON has no bytes, tensors or artefact refs, so they are
// written as tagged single-key objects, in both directions:
//   bytes        {"$base64": "<standard base64>"}
//   Tensor       {"$tensor": {"dtype": "bf16", "shape": [2, 3], "data": {"$base64": "..."}}}
//   ArtefactRef  {"$artefact": {"manifest": "<64 hex>", "size": 123, "mediaType": "..."}}
// A plain object whose only key starts with "$" and is not one of these is rejected, so the
// encoding stays unambiguous. Integers beyond 2^53 come out of MessagePack as bigint and are
// written as JSON numbers via their decimal string.
import { StrataError } from "../errors.ts";
import { makeArtefactRef, makeTensor } from "./extensions.ts";
import type { Fields, Value } from "./record.ts";

export const MAX_VALUE_DEPTH = 32;

export function bytesToBase64(bytes: Uint8Array): string {
  // Buffer exists in Bun, Deno (node compat) and Node; browsers use the btoa path.
  const B = (globalThis as { Buffer?: { from(b: ArrayBufferLike, o: number, l: number): { toString(e: string): string } } }).Buffer;
  if (B) return B.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function base64ToBytes(text: string): Uint8Array {
  if (typeof text !== "string" || text.length % 4 !== 0 || !BASE64.test(text)) {
    throw new StrataError("BAD_REQUEST", "invalid base64 in {\"$base64\": ...}");
  }
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** A MessagePack-decoded value → a JSON-safe value. */
export function toJsonValue(value: unknown, depth = 0): unknown {
  if (depth > MAX_VALUE_DEPTH) throw new StrataError("BAD_REQUEST", `values nest deeper than ${MAX_VALUE_DEPTH}`);
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Uint8Array) return { $base64: bytesToBase64(value) };
  if (Array.isArray(value)) return value.map((v) => toJsonValue(v, depth + 1));
  if (typeof value === "object") {
    const kind = (value as { kind?: unknown }).kind;
    if (kind === "tensor") {
      const t = value as { dtype: string; shape: number[]; data: Uint8Array };
      return { $tensor: { dtype: t.dtype, shape: t.shape, data: { $base64: bytesToBase64(t.data) } } };
    }
    if (kind === "artefact") {
      const a = value as { manifest: string; size: number; mediaType: string };
      return { $artefact: { manifest: a.manifest, size: a.size, mediaType: a.mediaType } };
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJsonValue(v, depth + 1);
    return out;
  }
  throw new StrataError("BAD_REQUEST", `cannot represent ${typeof value} as JSON`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * A publish's parsed JSON fields → log values, each field through fromJsonValue. The fields are a
 * map, so a fields object that is one tagged value ({"$base64": ...}) is refused.
 */
export function fromJsonFields(fields: { readonly [field: string]: unknown }): Fields {
  const keys = Object.keys(fields);
  if (keys.length === 1 && keys[0]!.startsWith("$")) throw new StrataError("BAD_REQUEST", `fields must be a map of fields, not the tagged value ${keys[0]}`);
  const out: Record<string, Value> = {};
  for (const k of keys) out[k] = fromJsonValue(fields[k], 1);
  return out;
}

/** A parsed JSON value → a log value (tagged objects become bytes, tensors, artefact refs). */
export function fromJsonValue(value: unknown, depth = 0): Value {
  if (depth > MAX_VALUE_DEPTH) throw new StrataError("BAD_REQUEST", `values nest deeper than ${MAX_VALUE_DEPTH}`);
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") {
    // JSON.parse reads 1e309 as Infinity, which JSON reads could only serve as a string.
    if (!Number.isFinite(value)) throw new StrataError("BAD_REQUEST", `the number ${value} is out of range: numbers must be finite`);
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => fromJsonValue(v, depth + 1));
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0]!.startsWith("$")) {
      const inner = value[keys[0]!];
      switch (keys[0]) {
        case "$base64":
          if (typeof inner !== "string") throw new StrataError("BAD_REQUEST", "$base64 must be a string");
          return base64ToBytes(inner);
        case "$tensor": {
          if (!isPlainObject(inner)) throw new StrataError("BAD_REQUEST", "$tensor must be an object");
          const { dtype, shape } = inner;
          if (typeof dtype !== "string" || !Array.isArray(shape)) throw new StrataError("BAD_REQUEST", "$tensor needs dtype (a string) and shape (an array)");
          const data = fromJsonValue(inner.data, depth + 1);
          if (!(data instanceof Uint8Array)) throw new StrataError("BAD_REQUEST", "$tensor.data must be {\"$base64\": ...}");
          // makeTensor checks the rest (dtype length, shape entries).
          return makeTensor(dtype, shape, data);
        }
        case "$artefact": {
          if (!isPlainObject(inner)) throw new StrataError("BAD_REQUEST", "$artefact must be an object");
          const { manifest, size, mediaType } = inner;
          if (typeof manifest !== "string" || typeof size !== "number" || typeof mediaType !== "string") {
            throw new StrataError("BAD_REQUEST", "$artefact needs manifest (a string), size (a number) and mediaType (a string)");
          }
          return makeArtefactRef(manifest, size, mediaType);
        }
        default:
          throw new StrataError("BAD_REQUEST", `unknown tagged value ${keys[0]}`);
      }
    }
    const out: Record<string, Value> = {};
    for (const k of keys) out[k] = fromJsonValue(value[k], depth + 1);
    return out;
  }
  throw new StrataError("BAD_REQUEST", "unsupported JSON value");
}
