// Finds the ArtefactRefs in a record's fields (at any depth of arrays and maps): the manifests
// a record keeps alive.
import type { Fields, Value } from "./record.ts";

/** Maps and arrays nested deeper than this are not searched (the record decoder bounds depth anyway). */
const MAX_DEPTH = 64;

function visit(value: Value, depth: number, out: Set<string>): void {
  if (value === null || typeof value !== "object" || value instanceof Uint8Array || depth > MAX_DEPTH) return;
  if (Array.isArray(value)) {
    for (const v of value as readonly Value[]) visit(v, depth + 1, out);
    return;
  }
  const kind = (value as { kind?: unknown }).kind;
  if (kind === "artefact") {
    out.add((value as { manifest: string }).manifest);
    return;
  }
  if (kind === "tensor") return;
  for (const v of Object.values(value as { readonly [k: string]: Value })) visit(v, depth + 1, out);
}

/** Distinct manifest ids referenced by the fields, in first-seen order. */
export function collectArtefactRefs(fields: Fields): string[] {
  const out = new Set<string>();
  for (const v of Object.values(fields)) visit(v, 0, out);
  return [...out];
}
