// Strata's framing of a UCX packed remote key. UCX parses a packed rkey without bounds checks and
// software-emulated RMA (TCP) reads whatever address it is given, so a peer must reject a corrupt
// key or a get outside the advertised region before UCX sees either:
//   "SUX1" | u32 packed length | u64 region address | u64 region length | u32 crc32c | packed rkey
// (little-endian; the CRC covers the 24 header bytes before it and the packed key).
import { StrataError } from "../core/errors.ts";
import { crc32c } from "../core/hashing/crc32c.ts";

const MAGIC = 0x31585553; // "SUX1" read as a little-endian u32
const HEADER_BYTES = 28;
/** UCX's packed keys are tens to hundreds of bytes; anything far larger is not one. */
const MAX_PACKED_BYTES = 64 * 1024;

export interface RemoteKey {
  readonly address: bigint;
  readonly length: number;
  readonly packed: Uint8Array;
}

export function encodeRemoteKey(key: RemoteKey): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + key.packed.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, key.packed.length, true);
  view.setBigUint64(8, key.address, true);
  view.setBigUint64(16, BigInt(key.length), true);
  out.set(key.packed, HEADER_BYTES);
  view.setUint32(24, checksum(out), true);
  return out;
}

function checksum(framed: Uint8Array): number {
  return crc32c(framed.subarray(HEADER_BYTES), crc32c(framed.subarray(0, 24)));
}

function bad(why: string): StrataError {
  return new StrataError("BAD_REQUEST", `bad remote key: ${why}`);
}

export function decodeRemoteKey(framed: Uint8Array): RemoteKey {
  if (framed.length < HEADER_BYTES) throw bad(`${framed.length} bytes is shorter than its ${HEADER_BYTES}-byte header`);
  const view = new DataView(framed.buffer, framed.byteOffset, framed.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw bad("wrong magic");
  const packedLength = view.getUint32(4, true);
  if (packedLength === 0 || packedLength > MAX_PACKED_BYTES || packedLength !== framed.length - HEADER_BYTES) {
    throw bad(`packed length ${packedLength} does not match the ${framed.length - HEADER_BYTES} bytes that follow`);
  }
  if (view.getUint32(24, true) !== checksum(framed)) throw bad("checksum mismatch");
  const length = view.getBigUint64(16, true);
  if (length > BigInt(Number.MAX_SAFE_INTEGER)) throw bad("region length out of range");
  return { address: view.getBigUint64(8, true), length: Number(length), packed: framed.slice(HEADER_BYTES) };
}

/** Throws BAD_REQUEST unless [address, address + length) lies inside the key's region. */
export function checkRemoteRange(key: RemoteKey, address: bigint, length: number): void {
  const end = key.address + BigInt(key.length);
  if (address < key.address || address + BigInt(length) > end) {
    throw new StrataError("BAD_REQUEST", `get of ${length} bytes at 0x${address.toString(16)} is outside the remote region [0x${key.address.toString(16)}, 0x${end.toString(16)})`);
  }
}
