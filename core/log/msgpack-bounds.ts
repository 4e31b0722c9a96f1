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

/** Throws BAD_REQUEST unless `bytes` is exactly one MessagePack value within `caps`. */
export function checkMsgpackBounds(bytes: Uint8Array, caps: MsgpackCaps, depth = 0): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  // Values still to read in each open container, innermost last; the bottom entry is the one top-level value.
  const left: number[] = [1];
  const need = (n: number): void => {
    if (n > bytes.length - pos) malformed(`truncated at byte ${pos}`);
  };
  const size = (width: 1 | 2 | 4): number => {
    need(width);
    const n = width === 1 ? view.getUint8(pos) : width === 2 ? view.getUint16(pos) : view.getUint32(pos);
    pos += width;
    return n;
  };
  const advance = (n: number): void => {
    need(n);
    pos += n;
  };
  const skip = (n: number, cap: number, what: string): void => {
    if (n > cap) malformed(`${what} of ${n} bytes is over the ${cap}-byte limit`);
    advance(n);
  };
  const open = (items: number, count: number, cap: number, what: string): void => {
    if (count > cap) malformed(`${what} of ${count} entries is over the limit of ${cap}`);
    if (depth + left.length > caps.maxDepth) malformed(`containers nest deeper than ${caps.maxDepth}`);
    // Every item takes at least one byte: a claim beyond the bytes left is a lie.
    need(items);
    if (items > 0) left.push(items);
  };
  const ext = (length: number): void => {
    need(1);
    const type = view.getInt8(pos);
    pos += 1;
    if (length > caps.maxExtLength) malformed(`an extension of ${length} bytes is over the ${caps.maxExtLength}-byte limit`);
    need(length);
    if (NESTED_EXT_TYPES.has(type)) {
      if (depth + left.length > caps.maxDepth) malformed(`containers nest deeper than ${caps.maxDepth}`);
      checkMsgpackBounds(bytes.subarray(pos, pos + length), caps, depth + left.length);
    }
    pos += length;
  };
  while (left.length > 0) {
    if (left[left.length - 1] === 0) {
      left.pop();
      continue;
    }
    left[left.length - 1]!--;
    need(1);
    const b = view.getUint8(pos++);
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) continue;
    if (b <= 0x8f) open(2 * (b & 0x0f), b & 0x0f, caps.maxMapLength, "a map");
    else if (b <= 0x9f) open(b & 0x0f, b & 0x0f, caps.maxArrayLength, "an array");
    else if (b <= 0xbf) skip(b & 0x1f, caps.maxStrLength, "a string");
    else {
      switch (b) {
        case 0xc4: skip(size(1), caps.maxBinLength, "a bin"); break;
        case 0xc5: skip(size(2), caps.maxBinLength, "a bin"); break;
        case 0xc6: skip(size(4), caps.maxBinLength, "a bin"); break;
        case 0xc7: ext(size(1)); break;
        case 0xc8: ext(size(2)); break;
        case 0xc9: ext(size(4)); break;
        case 0xcc: case 0xd0: advance(1); break;
        case 0xcd: case 0xd1: advance(2); break;
        case 0xca: case 0xce: case 0xd2: advance(4); break;
        case 0xcb: case 0xcf: case 0xd3: advance(8); break;
        case 0xd4: ext(1); break;
        case 0xd5: ext(2); break;
        case 0xd6: ext(4); break;
        case 0xd7: ext(8); break;
        case 0xd8: ext(16); break;
        case 0xd9: skip(size(1), caps.maxStrLength, "a string"); break;
        case 0xda: skip(size(2), caps.maxStrLength, "a string"); break;
        case 0xdb: skip(size(4), caps.maxStrLength, "a string"); break;
        case 0xdc: { const n = size(2); open(n, n, caps.maxArrayLength, "an array"); break; }
        case 0xdd: { const n = size(4); open(n, n, caps.maxArrayLength, "an array"); break; }
        case 0xde: { const n = size(2); open(2 * n, n, caps.maxMapLength, "a map"); break; }
        case 0xdf: { const n = size(4); open(2 * n, n, caps.maxMapLength, "a map"); break; }
        default: malformed(`byte 0x${b.toString(16)} at ${pos - 1} starts no value`);
      }
    }
  }
  if (pos !== bytes.length) malformed(`${bytes.length - pos} bytes after the value`);
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
