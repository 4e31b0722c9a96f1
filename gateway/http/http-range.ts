// HTTP byte ranges and conditional requests for immutable, content-addressed bodies (RFC 9110):
// one range `bytes=a-b`, `bytes=a-` or `bytes=-n`; several ranges or a malformed header are
// ignored (the whole body is sent); If-None-Match and If-Range against a strong ETag.

/** [start, end) of the body to send; `unsatisfiable` answers 416; null sends the whole body. */
export type RangeChoice = { readonly start: number; readonly end: number } | "unsatisfiable" | null;

const ONE_RANGE = /^bytes=(?<a>\d{0,16})-(?<b>\d{0,16})$/;

export function parseRange(header: string | undefined, size: number): RangeChoice {
  if (header === undefined) return null;
  const m = ONE_RANGE.exec(header.trim());
  if (!m) return null;
  // Both groups always take part in a match (possibly empty).
  const a = m.groups?.a ?? "";
  const b = m.groups?.b ?? "";
  if (a === "" && b === "") return null;
  if (a === "") {
    const n = Number(b);
    if (n === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size };
  }
  const start = Number(a);
  if (b !== "" && Number(b) < start) return null;
  if (start >= size) return "unsatisfiable";
  const end = b === "" ? size : Math.min(size, Number(b) + 1);
  return { start, end };
}

function entityTags(header: string): string[] {
  return header.split(",").map((t) => t.trim().replace(/^W\//, ""));
}

/** True when If-None-Match matches the ETag (weak comparison, as RFC 9110 says for it). */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return entityTags(ifNoneMatch).some((t) => t === "*" || t === etag);
}

/** True when a Range may be honoured: no If-Range, or an If-Range equal to the strong ETag. */
export function rangeAllowed(ifRange: string | undefined, etag: string): boolean {
  return ifRange === undefined || ifRange.trim() === etag;
}
