// The index file beside each chunk-cache pack (`<name>.idx`): fixed 64-byte records, each
// protected by its own CRC32C, appended only by the pack's one writer. Two kinds:
//   entry  (kind 1): hash(32) | offset(u64) | length(u32): a verified chunk's bytes in the pack,
//                    appended only after the write of those bytes returned;
//   synced (kind 2): offset(u64): the pack was fdatasync'ed up to this byte.
// A record whose CRC does not match (a torn or never-finished write) is skipped; fixed sizes keep
// the records after it readable. An entry ending at or below a later `synced` mark is trusted
// without hashing; any other entry is verified on its first read.
import { crc32c } from "../../core/hashing/crc32c.ts";

export const INDEX_RECORD_BYTES = 64;
const KIND_ENTRY = 1;
const KIND_SYNCED = 2;
const CRC_AT = INDEX_RECORD_BYTES - 4;

export interface IndexedChunk {
  readonly hash: Uint8Array;
  readonly offset: number;
  readonly length: number;
  /** Below a synced mark: the bytes reached the disk before the mark was written. */
  readonly synced: boolean;
}

function sealed(record: Uint8Array): Uint8Array {
  new DataView(record.buffer, record.byteOffset, record.byteLength).setUint32(CRC_AT, crc32c(record.subarray(0, CRC_AT)), true);
  return record;
}

export function entryRecord(hash: Uint8Array, offset: number, length: number): Uint8Array {
  const record = new Uint8Array(INDEX_RECORD_BYTES);
  const view = new DataView(record.buffer);
  view.setUint32(0, KIND_ENTRY, true);
  record.set(hash, 4);
  view.setBigUint64(36, BigInt(offset), true);
  view.setUint32(44, length, true);
  return sealed(record);
}

export function syncedRecord(offset: number): Uint8Array {
  const record = new Uint8Array(INDEX_RECORD_BYTES);
  const view = new DataView(record.buffer);
  view.setUint32(0, KIND_SYNCED, true);
  view.setBigUint64(36, BigInt(offset), true);
  return sealed(record);
}

/** The entries of an index file's bytes whose range lies within `packBytes`, last one per hash. */
export function parseIndex(bytes: Uint8Array, packBytes: number, maxChunkBytes: number): IndexedChunk[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const raw: { hash: Uint8Array; offset: number; length: number }[] = [];
  let syncedUpTo = 0;
  for (let at = 0; at + INDEX_RECORD_BYTES <= bytes.length; at += INDEX_RECORD_BYTES) {
    if (view.getUint32(at + CRC_AT, true) !== crc32c(bytes.subarray(at, at + CRC_AT))) continue;
    const kind = view.getUint32(at, true);
    const offset = Number(view.getBigUint64(at + 36, true));
    if (kind === KIND_SYNCED) syncedUpTo = Math.max(syncedUpTo, offset);
    if (kind !== KIND_ENTRY) continue;
    const length = view.getUint32(at + 44, true);
    if (length === 0 || length > maxChunkBytes || offset + length > packBytes) continue;
    raw.push({ hash: bytes.slice(at + 4, at + 36), offset, length });
  }
  return raw.map((r) => ({ ...r, synced: r.offset + r.length <= syncedUpTo }));
}
