// Bounds of untrusted MessagePack, checked before it is decoded. @msgpack/msgpack preallocates
// an array of the length a header claims and has no depth limit, so a few hundred bytes of
// nested array32 headers could make it allocate gigabytes. checkMsgpackBounds walks the bytes
// once without building anything: every length within its cap and within the bytes left, every
// container at most maxDepth deep, exactly one value. A body that passes holds no claim larger
// than itself, so decoding it allocates in proportion to its size.
import { Decoder, type ExtensionCodec } from "@msgpack/msgpack";
import { StrataError } from "../errors.ts";
import { ARTEFACT_REF_EXT_TYPE, extensionCodec, TENSOR_EXT_TYPE } from "./extensions.ts";
import { MAX_VALUE_DEPTH } from "./json-value.ts";

export interface MsgpackCaps {
  /** Containers (arrays, maps, MessagePack-bearing extensions) nested at most this deep. */
  readonly maxDepth: number;
  readonly maxStrLength: number;
  readonly maxBinLength: number;
  readonly maxExtLength: number;
  readonly maxArrayLength: number;
  /** Entries (key-value pairs) of one map. */
  readonly maxMapLength: number;
}

/** Containers around a record's field values in a publish body or frame: body map, records array, record map, fields map. */
export const RECORD_ENVELOPE_DEPTH = 4;

/**
 * Caps derived from the byte limit of what is decoded rather than hard-coded: nothing in n bytes
 * is longer than n bytes or has more than n elements (n / 2 map entries). The default depth lets
 * a record's field values nest MAX_VALUE_DEPTH levels inside their envelope.
 */
export function msgpackCapsFor(maxBytes: number, maxDepth: number = MAX_VALUE_DEPTH + RECORD_ENVELOPE_DEPTH): MsgpackCaps {
  return Object.freeze({
    maxDepth,
    maxStrLength: maxBytes,
    maxBinLength: maxBytes,
    maxExtLength: maxBytes,
    maxArrayLength: maxBytes,
    maxMapLength: Math.floor(maxBytes / 2),
  });
}

/** Extension types of the log model whose payload is itself MessagePack (checked as nested). */
const NESTED_EXT_TYPES: ReadonlySet<number> = new Set([TENSOR_EXT_TYPE, ARTEFACT_REF_EXT_TYPE]);

function malformed(message: string): never {
  throw new StrataError("BAD_REQUEST", `malformed MessagePack: ${message}`);
}

/**
 * Throws BAD_REQUEST unless `bytes` is exactly one MessagePack value within `caps`. It runs on
 * every publish body before decoding, so it is one flat loop over the bytes (no closures, no
 * allocation but the counter stack): about as fast as the decode itself.
 */
export function checkMsgpackBounds(bytes: Uint8Array, caps: MsgpackCaps, depth = 0): void {
  const end = bytes.length;
  const { maxDepth, maxStrLength, maxBinLength, maxExtLength, maxArrayLength, maxMapLength } = caps;
  // Values still to read in each open container, innermost last; entry 0 is the one top-level value.
  const left = new Float64Array(Math.max(1, maxDepth - depth) + 1);
  let top = 0;
  left[0] = 1;
  let pos = 0;
  for (;;) {
    while (left[top] === 0) {
      if (top === 0) {
        if (pos !== end) malformed(`${end - pos} bytes after the value`);
        return;
      }
      top--;
    }
    left[top]!--;
    if (pos >= end) malformed(`truncated at byte ${pos}`);
    const b = bytes[pos++]!;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) continue;
    // What the byte starts: a container of `items` values (`count` entries), or `skip` bytes of payload.
    let items = -1;
    let count = 0;
    let cap = 0;
    let skip = 0;
    let extType: number | undefined;
    if (b <= 0x8f) {
      count = b & 0x0f;
      items = 2 * count;
      cap = maxMapLength;
    } else if (b <= 0x9f) {
      count = items = b & 0x0f;
      cap = maxArrayLength;
    } else if (b <= 0xbf) {
      skip = b & 0x1f;
      if (skip > maxStrLength) malformed(`a string of ${skip} bytes is over the ${maxStrLength}-byte limit`);
    } else {
      // Width of the length or value that follows the type byte.
      let width = 0;
      switch (b) {
        case 0xcc: case 0xd0: skip = 1; break;
        case 0xcd: case 0xd1: skip = 2; break;
        case 0xca: case 0xce: case 0xd2: skip = 4; break;
        case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
        case 0xc4: case 0xc7: case 0xd9: width = 1; break;
        case 0xc5: case 0xc8: case 0xda: case 0xdc: case 0xde: width = 2; break;
        case 0xc6: case 0xc9: case 0xdb: case 0xdd: case 0xdf: width = 4; break;
        case 0xd4: skip = 1; extType = 0; break;
        case 0xd5: skip = 2; extType = 0; break;
        case 0xd6: skip = 4; extType = 0; break;
        case 0xd7: skip = 8; extType = 0; break;
        case 0xd8: skip = 16; extType = 0; break;
        default: malformed(`byte 0x${b.toString(16)} at ${pos - 1} starts no value`);
      }
      if (width > 0) {
        if (width > end - pos) malformed(`truncated at byte ${pos}`);
        const n = width === 1 ? bytes[pos]! : width === 2 ? (bytes[pos]! << 8) | bytes[pos + 1]! : ((bytes[pos]! << 24) >>> 0) + ((bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!);
        pos += width;
        if (b === 0xc4 || b === 0xc5 || b === 0xc6) {
          if (n > maxBinLength) malformed(`a bin of ${n} bytes is over the ${maxBinLength}-byte limit`);
          skip = n;
        } else if (b === 0xd9 || b === 0xda || b === 0xdb) {
          if (n > maxStrLength) malformed(`a string of ${n} bytes is over the ${maxStrLength}-byte limit`);
          skip = n;
        } else if (b === 0xc7 || b === 0xc8 || b === 0xc9) {
          skip = n;
          extType = 0;
        } else if (b === 0xdc || b === 0xdd) {
          count = items = n;
          cap = maxArrayLength;
        } else {
          count = n;
          items = 2 * n;
          cap = maxMapLength;
        }
      }
    }
    if (items >= 0) {
      if (count > cap) malformed(`${cap === maxMapLength ? "a map" : "an array"} of ${count} entries is over the limit of ${cap}`);
      if (depth + top + 1 > maxDepth) malformed(`containers nest deeper than ${maxDepth}`);
      // Every item takes at least one byte: a claim beyond the bytes left is a lie.
      if (items > end - pos) malformed(`truncated at byte ${pos}`);
      if (items > 0) left[++top] = items;
      continue;
    }
    if (extType !== undefined) {
      if (skip > maxExtLength) malformed(`an extension of ${skip} bytes is over the ${maxExtLength}-byte limit`);
      if (1 + skip > end - pos) malformed(`truncated at byte ${pos}`);
      const type = (bytes[pos]! << 24) >> 24;
      pos += 1;
      if (NESTED_EXT_TYPES.has(type)) {
        if (depth + top + 1 > maxDepth) malformed(`containers nest deeper than ${maxDepth}`);
        checkMsgpackBounds(bytes.subarray(pos, pos + skip), caps, depth + top + 1);
      }
      pos += skip;
      continue;
    }
    if (skip > end - pos) malformed(`truncated at byte ${pos}`);
    pos += skip;
  }
}

/** A MessagePack decoder for untrusted bytes: checkMsgpackBounds first, then the library's decoder with the same caps. */
export class BoundedMsgpackDecoder {
  readonly caps: MsgpackCaps;
  readonly #decoder: Decoder;

  constructor(caps: MsgpackCaps, codec: ExtensionCodec = extensionCodec) {
    this.caps = caps;
    const { maxStrLength, maxBinLength, maxExtLength, maxArrayLength, maxMapLength } = caps;
    this.#decoder = new Decoder({ extensionCodec: codec, maxStrLength, maxBinLength, maxExtLength, maxArrayLength, maxMapLength });
  }

  /** The one value in `bytes`; anything malformed or over a cap is BAD_REQUEST. */
  decode(bytes: Uint8Array): unknown {
    checkMsgpackBounds(bytes, this.caps);
    try {
      return this.#decoder.decode(bytes);
    } catch (e) {
      if (e instanceof StrataError) throw e;
      throw new StrataError("BAD_REQUEST", `malformed MessagePack: ${(e as Error).message}`);
    }
  }
}
