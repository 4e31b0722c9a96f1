// Lossless tensor compression: split elements into byte planes (exponent bytes compress far
// better than mantissa bytes), compress each plane, and wrap them in a self-describing container.
//
// Container v1, little-endian:
//   0  "STPC" magic
//   4  u8  version (1)
//   5  u8  dtype code (DTYPE_CODES below)
//   6  u8  plane count (= element size of the dtype)
//   7  u8  flags (0; anything else is rejected)
//   8  u64 element count
//   16 per plane, 16 bytes: u8 codec (0 raw, 1 zstd, 2 brotli, 3 deflate), 3 zero bytes,
//      u32 CRC32C of the raw plane, u64 stored length
//   then u32 CRC32C of all header bytes before it, then the stored planes in order.
// A plane that does not shrink is stored raw, so the output never exceeds input + header.
import {
  type CodecName,
  CODEC_ID,
  codecName,
  compressBytes,
  compressBytesAsync,
  type CompressOptions,
  decompressBytes,
  decompressBytesAsync,
  defaultCodec,
} from "./byte-codecs.ts";
import { crc32c } from "../hashing/crc32c.ts";
import { StrataError } from "../errors.ts";
import { mergePlanes, splitPlanes } from "./planes.ts";
import { assertDtype, DTYPE_SIZE, type Dtype } from "./tensor-types.ts";

const MAGIC = [0x53, 0x54, 0x50, 0x43]; // "STPC"
const VERSION = 1;
const FIXED_HEADER = 16;
const PLANE_ENTRY = 16;

/** Stable on-disk dtype codes; never renumber. */
const DTYPE_CODES: readonly Dtype[] = [
  "U8", "I8", "BOOL", "F8_E4M3", "F8_E5M2", "F16", "BF16", "I16", "U16", "F32", "I32", "U32", "F64", "I64", "U64",
];

export interface PlaneCompressOptions extends CompressOptions {
  /** Codec for every plane; default zstd where the runtime has it, else deflate. */
  codec?: CodecName;
}

export interface PlaneInfo {
  codec: CodecName;
  crc32c: number;
  storedLength: number;
}

export interface PlaneContainerInfo {
  dtype: Dtype;
  count: number;
  planes: PlaneInfo[];
  /** Where the first stored plane starts. */
  headerLength: number;
}

function corrupt(message: string): never {
  throw new StrataError("CORRUPT_DATA", `plane container: ${message}`);
}

function headerLength(planes: number): number {
  return FIXED_HEADER + planes * PLANE_ENTRY + 4;
}

interface Stored {
  codec: CodecName;
  crc: number;
  data: Uint8Array;
}

interface Prepared {
  codec: CodecName;
  count: number;
  planes: Uint8Array[];
}

// One reusable buffer for the synchronous paths' split planes: a fresh 16 MiB buffer costs
// thousands of page faults per call, a measurable share of the time. Only used by code that
// finishes with it before returning, and only up to a cap, so at most this much stays held.
const SCRATCH_CAP = 32 << 20;
let scratch: Uint8Array | undefined;

function scratchOf(length: number): Uint8Array {
  if (length > SCRATCH_CAP) return new Uint8Array(length);
  if (!scratch || scratch.byteLength < length) scratch = new Uint8Array(Math.min(SCRATCH_CAP, Math.max(length, 1 << 20)));
  return scratch.subarray(0, length);
}

function prepare(bytes: Uint8Array, dtype: Dtype, options: PlaneCompressOptions, sync: boolean): Prepared {
  const size = DTYPE_SIZE[assertDtype(dtype)];
  if (bytes.byteLength % size !== 0) {
    throw new StrataError("BAD_REQUEST", `${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  }
  const count = bytes.byteLength / size;
  const split = splitPlanes(bytes, size, sync ? scratchOf(bytes.byteLength) : new Uint8Array(bytes.byteLength));
  const planes = Array.from({ length: size }, (_, p) => split.subarray(p * count, (p + 1) * count));
  return { codec: options.codec ?? defaultCodec(), count, planes };
}

/** Keeps the compressed form only if it is smaller. */
function choose(codec: CodecName, plane: Uint8Array, packed: Uint8Array, crc: number): Stored {
  return packed.byteLength < plane.byteLength ? { codec, crc, data: packed } : { codec: "raw", crc, data: plane };
}

function assemble(dtype: Dtype, count: number, stored: Stored[]): Uint8Array {
  const hlen = headerLength(stored.length);
  const total = stored.reduce((n, s) => n + s.data.byteLength, hlen);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = VERSION;
  out[5] = DTYPE_CODES.indexOf(dtype);
  out[6] = stored.length;
  out[7] = 0;
  dv.setBigUint64(8, BigInt(count), true);
  let pos = hlen;
  stored.forEach((s, p) => {
    const at = FIXED_HEADER + p * PLANE_ENTRY;
    out[at] = CODEC_ID[s.codec];
    dv.setUint32(at + 4, s.crc, true);
    dv.setBigUint64(at + 8, BigInt(s.data.byteLength), true);
    out.set(s.data, pos);
    pos += s.data.byteLength;
  });
  dv.setUint32(hlen - 4, crc32c(out.subarray(0, hlen - 4)), true);
  return out;
}

/** Compresses little-endian element bytes of `dtype` into a plane container. */
export function compressPlanes(bytes: Uint8Array, dtype: Dtype, options: PlaneCompressOptions = {}): Uint8Array {
  const { codec, count, planes } = prepare(bytes, dtype, options, true);
  const stored = planes.map((plane) => choose(codec, plane, compressBytes(codec, plane, options), crc32c(plane)));
  return assemble(dtype, count, stored);
}

/**
 * compressPlanes with the planes compressed on node:zlib's thread pool while this thread
 * computes their CRCs: the same bytes out, faster on more than one core.
 */
export async function compressPlanesAsync(bytes: Uint8Array, dtype: Dtype, options: PlaneCompressOptions = {}): Promise<Uint8Array> {
  const { codec, count, planes } = prepare(bytes, dtype, options, false);
  const pending = Promise.all(planes.map((plane) => compressBytesAsync(codec, plane, options)));
  const crcs = planes.map((plane) => crc32c(plane));
  const packed = await pending;
  return assemble(dtype, count, planes.map((plane, p) => choose(codec, plane, packed[p]!, crcs[p]!)));
}

/** Reads and checks a container's header (magic, version, dtype, CRC, lengths). */
export function inspectPlanes(container: Uint8Array): PlaneContainerInfo {
  if (container.byteLength < FIXED_HEADER) corrupt(`${container.byteLength} bytes is shorter than the header`);
  if (MAGIC.some((b, i) => container[i] !== b)) corrupt("bad magic");
  if (container[4] !== VERSION) corrupt(`unsupported version ${container[4]}`);
  const dtype = DTYPE_CODES[container[5]!];
  if (dtype === undefined) corrupt(`unknown dtype code ${container[5]}`);
  const size = DTYPE_SIZE[dtype];
  if (container[6] !== size) corrupt(`plane count ${container[6]} does not match ${dtype}`);
  if (container[7] !== 0) corrupt(`unknown flags ${container[7]}`);
  const hlen = headerLength(size);
  if (container.byteLength < hlen) corrupt(`${container.byteLength} bytes is shorter than the header`);
  const dv = new DataView(container.buffer, container.byteOffset, container.byteLength);
  if (dv.getUint32(hlen - 4, true) !== crc32c(container.subarray(0, hlen - 4))) corrupt("header CRC mismatch");
  const count = Number(dv.getBigUint64(8, true));
  if (!Number.isSafeInteger(count)) corrupt("element count out of range");
  const planes: PlaneInfo[] = [];
  let total = hlen;
  for (let p = 0; p < size; p++) {
    const at = FIXED_HEADER + p * PLANE_ENTRY;
    const codec = codecName(container[at]!);
    if (codec === undefined) corrupt(`plane ${p}: unknown codec ${container[at]}`);
    if (container[at + 1] !== 0 || container[at + 2] !== 0 || container[at + 3] !== 0) corrupt(`plane ${p}: reserved bytes set`);
    const storedLength = Number(dv.getBigUint64(at + 8, true));
    if (!Number.isSafeInteger(storedLength)) corrupt(`plane ${p}: length out of range`);
    if (codec === "raw" && storedLength !== count) corrupt(`plane ${p}: raw length ${storedLength} != ${count}`);
    planes.push({ codec, crc32c: dv.getUint32(at + 4, true), storedLength });
    total += storedLength;
  }
  if (total !== container.byteLength) corrupt(`container is ${container.byteLength} bytes, header describes ${total}`);
  return { dtype, count, planes, headerLength: hlen };
}

function storedPlanes(container: Uint8Array, info: PlaneContainerInfo): Uint8Array[] {
  let pos = info.headerLength;
  return info.planes.map((plane) => container.subarray(pos, (pos += plane.storedLength)));
}

/** Checks every plane, then allocates and merges (a forged count costs no extra memory). */
function finish(info: PlaneContainerInfo, raws: Uint8Array[]): { dtype: Dtype; bytes: Uint8Array } {
  raws.forEach((raw, p) => {
    if (crc32c(raw) !== info.planes[p]!.crc32c) corrupt(`plane ${p}: CRC mismatch`);
  });
  const size = DTYPE_SIZE[info.dtype];
  const split = scratchOf(info.count * size); // finish() is synchronous: safe in both paths
  raws.forEach((raw, p) => split.set(raw, p * info.count));
  return { dtype: info.dtype, bytes: mergePlanes(split, size) };
}

/** Inverse of compressPlanes: the original element bytes and their dtype. */
export function decompressPlanes(container: Uint8Array): { dtype: Dtype; bytes: Uint8Array } {
  const info = inspectPlanes(container);
  const raws = storedPlanes(container, info).map((data, p) => decompressBytes(info.planes[p]!.codec, data, info.count));
  return finish(info, raws);
}

/** decompressPlanes with the planes decoded in parallel on node:zlib's thread pool. */
export async function decompressPlanesAsync(container: Uint8Array): Promise<{ dtype: Dtype; bytes: Uint8Array }> {
  const info = inspectPlanes(container);
  const raws = await Promise.all(
    storedPlanes(container, info).map((data, p) => decompressBytesAsync(info.planes[p]!.codec, data, info.count)),
  );
  return finish(info, raws);
}
