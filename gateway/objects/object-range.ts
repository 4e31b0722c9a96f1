// Byte-range checks shared by the object stores: a range must lie inside the object.

import { StrataError } from "../../core/errors.ts";
import type { ByteRange } from "./object-store.ts";

/** Shape check, before any I/O: non-negative safe integers. */
export function validateRange(key: string, range: ByteRange): void {
  const { offset, length } = range;
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new StrataError("BAD_REQUEST", `bad range for ${key}: offset ${offset}, length ${length} (need non-negative integers)`);
  }
}

/** The range must end at or before the end of the object. */
export function checkRangeWithin(key: string, range: ByteRange, size: number): void {
  if (range.offset + range.length > size) {
    throw new StrataError(
      "OFFSET_OUT_OF_RANGE",
      `range [${range.offset}, ${range.offset + range.length}) is past the end of ${key} (${size} bytes)`,
    );
  }
}
