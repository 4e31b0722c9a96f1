// Caps of the MessagePack decoders, derived from the byte limit of what they decode rather than
// hard-coded: nothing in a body of n bytes is longer than n bytes or has more than n elements
// (n / 2 map entries). The depth allows a record's field values MAX_VALUE_DEPTH levels inside
// their envelope (body map, records array, record map, fields map).
import { MAX_VALUE_DEPTH } from "../../core/log/json-value.ts";
import type { MsgpackCaps } from "../../core/log/msgpack-bounds.ts";

/** Containers around a record's field values in a publish body or frame. */
export const RECORD_ENVELOPE_DEPTH = 4;

export function decoderCaps(maxBytes: number, maxDepth: number = MAX_VALUE_DEPTH + RECORD_ENVELOPE_DEPTH): MsgpackCaps {
  return Object.freeze({
    maxDepth,
    maxStrLength: maxBytes,
    maxBinLength: maxBytes,
    maxExtLength: maxBytes,
    maxArrayLength: maxBytes,
    maxMapLength: Math.floor(maxBytes / 2),
  });
}
