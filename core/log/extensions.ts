// MessagePack extension types of the log model, registered on one shared codec.
//   type 1  Tensor       payload: msgpack [dtype: str, shape: int[], data: bin]
//   type 2  ArtefactRef  payload: msgpack [manifest: bin(32), size: uint, mediaType: str]
// Types 3..31 are reserved for Strata; applications must not use them.
import { decode, encode, ExtensionCodec } from "@msgpack/msgpack";
import { StrataError } from "../errors.ts";
import { DTYPE_SIZE, type Dtype } from "../tensors/tensor-types.ts";
import { bytesToHex, hexToBytes } from "../util/hex.ts";
import type { ArtefactRef, Tensor } from "./record.ts";

export const TENSOR_EXT_TYPE = 1;
export const ARTEFACT_REF_EXT_TYPE = 2;

const HEX = /^[0-9a-f]{64}$/;

function isTensor(v: unknown): v is Tensor {
  return typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "tensor";
}
function isArtefactRef(v: unknown): v is ArtefactRef {
  return typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "artefact";
}

export function makeTensor(dtype: string, shape: readonly number[], data: Uint8Array): Tensor {
  if (typeof dtype !== "string" || dtype.length === 0 || dtype.length > 16) throw new StrataError("BAD_REQUEST", "tensor dtype must be a short string");
  if (!Array.isArray(shape) || shape.length > 16 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new StrataError("BAD_REQUEST", "tensor shape must be at most 16 non-negative integers");
  }
  if (!(data instanceof Uint8Array)) throw new StrataError("BAD_REQUEST", "tensor data must be bytes");
  const size = elementSize(dtype);
  if (size === undefined) throw new StrataError("INVALID_TENSOR", `tensor dtype ${JSON.stringify(dtype)} is none of ${DTYPE_NAMES.join(", ")} (any case)`);
  // Dimensions are at most 16 safe integers, so the product is a float that can pass 2^53: compared as a bigint.
  const expected = shape.reduce((n, d) => n * BigInt(d), BigInt(size));
  if (BigInt(data.length) !== expected) {
    throw new StrataError("INVALID_TENSOR", `tensor data is ${data.length} bytes; a ${dtype} tensor of shape [${shape.join(", ")}] is ${expected} bytes`);
  }
  return { kind: "tensor", dtype, shape, data };
}

const DTYPE_NAMES = Object.keys(DTYPE_SIZE) as Dtype[];

/**
 * Bytes per element of a dtype as safetensors names it, in any case ("F32", "f32"): records keep
 * the name their producer gave, and lowercase names were accepted before dtypes were checked.
 */
function elementSize(dtype: string): number | undefined {
  const name = dtype.toUpperCase();
  return Object.hasOwn(DTYPE_SIZE, name) ? DTYPE_SIZE[name as Dtype] : undefined;
}

export function makeArtefactRef(manifest: string, size: number, mediaType: string): ArtefactRef {
  if (typeof manifest !== "string" || !HEX.test(manifest)) throw new StrataError("BAD_REQUEST", "artefact manifest must be 64 lowercase hex characters");
  if (!Number.isSafeInteger(size) || size < 0) throw new StrataError("BAD_REQUEST", "artefact size must be a non-negative integer");
  if (typeof mediaType !== "string" || mediaType.length > 255) throw new StrataError("BAD_REQUEST", "artefact mediaType must be a string of at most 255 characters");
  return { kind: "artefact", manifest, size, mediaType };
}

export const extensionCodec = new ExtensionCodec();

extensionCodec.register({
  type: TENSOR_EXT_TYPE,
  encode(value: unknown): Uint8Array | null {
    if (!isTensor(value)) return null;
    return encode([value.dtype, value.shape, value.data]);
  },
  decode(data: Uint8Array): Tensor {
    const v = decode(data) as unknown;
    if (!Array.isArray(v) || v.length !== 3) throw new StrataError("CORRUPT_DATA", "malformed Tensor extension");
    return makeTensor(v[0] as string, v[1] as number[], v[2] as Uint8Array);
  },
});

extensionCodec.register({
  type: ARTEFACT_REF_EXT_TYPE,
  encode(value: unknown): Uint8Array | null {
    if (!isArtefactRef(value)) return null;
    return encode([hexToBytes(value.manifest), value.size, value.mediaType]);
  },
  decode(data: Uint8Array): ArtefactRef {
    const v = decode(data) as unknown;
    if (!Array.isArray(v) || v.length !== 3 || !(v[0] instanceof Uint8Array) || v[0].length !== 32) {
      throw new StrataError("CORRUPT_DATA", "malformed ArtefactRef extension");
    }
    return makeArtefactRef(bytesToHex(v[0]), v[1] as number, v[2] as string);
  },
});
