// Whether a decoded MessagePack value is a map of record field values of the log model
// (core/log/record.ts): null, booleans, numbers, bigints, strings, bytes, Tensors, ArtefactRefs,
// and arrays and string-keyed maps of these. The walk keeps its own stack, so a deeply nested
// value from a hostile peer cannot overflow the call stack.
import type { Fields } from "../log/record.ts";

function isMap(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Uint8Array) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function isScalar(v: unknown): boolean {
  return v === null || typeof v === "boolean" || typeof v === "number" || typeof v === "bigint" || typeof v === "string" || v instanceof Uint8Array;
}

/** The extension types decode to these shapes (core/log/extensions.ts). */
function isExtension(v: Record<string, unknown>): boolean {
  if (v.kind === "tensor") return typeof v.dtype === "string" && Array.isArray(v.shape) && v.shape.every((d) => Number.isSafeInteger(d)) && v.data instanceof Uint8Array;
  if (v.kind === "artefact") return typeof v.manifest === "string" && Number.isSafeInteger(v.size) && typeof v.mediaType === "string";
  return false;
}

export function isFieldMap(v: unknown): v is Fields {
  if (!isMap(v)) return false;
  const pending: unknown[] = [v];
  while (pending.length > 0) {
    const next = pending.pop();
    const children = Array.isArray(next) ? next : isMap(next) ? (isExtension(next) ? [] : Object.values(next)) : null;
    if (children === null) return false;
    for (const child of children) if (!isScalar(child)) pending.push(child);
  }
  return true;
}
