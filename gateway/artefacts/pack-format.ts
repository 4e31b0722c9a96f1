// Pack objects (packs/<id>.pack): an 8-byte magic "STRPACK1" followed by chunk frames
// [32-byte hash][u32 LE length][bytes] (core/artefacts/chunk-frames.ts). Self-describing, so a pack found
// in the object store without index rows (an upload cut short before its commit) can be indexed.
import { blake3, bytesToHex } from "../../core/hashing/blake3.ts";
import { encodeFrameHeader, FRAME_HASH_BYTES, FRAME_HEADER_BYTES } from "../../core/artefacts/chunk-frames.ts";
import { StrataError } from "../../core/errors.ts";

export const PACK_MAGIC = new TextEncoder().encode("STRPACK1");
export const PACK_PREFIX = "packs/";

export interface PackEntry {
  /** 64 lowercase hex characters. */
  readonly hash: string;
  /** Offset of the chunk's data (after its frame header) in the pack. */
  readonly offset: number;
  readonly length: number;
}

export function packKey(id: string): string {
  return `${PACK_PREFIX}${id}.pack`;
}

/** The pack id in a key made by packKey, or undefined for any other key. */
export function packIdOf(key: string): string | undefined {
  const m = /^packs\/([0-9a-f]{16}-[0-9a-f]{16})\.pack$/.exec(key);
  return m ? m[1] : undefined;
}

/** A fresh pack id: 16 hex digits of milliseconds, then 16 random hex digits (sorts by age). */
export function newPackId(): string {
  const random = new Uint8Array(8);
  crypto.getRandomValues(random);
  return `${Date.now().toString(16).padStart(16, "0")}-${bytesToHex(random)}`;
}

/** Builds one pack in memory: append frames, then bytes() for the upload. */
export class PackBuilder {
  readonly id = newPackId();
  readonly #parts: Uint8Array[] = [PACK_MAGIC];
  readonly #entries: PackEntry[] = [];
  #bytes = PACK_MAGIC.length;

  get bytes(): number {
    return this.#bytes;
  }
  get entries(): readonly PackEntry[] {
    return this.#entries;
  }

  /** Appends one chunk (already verified by the caller); returns its entry. */
  append(hash: Uint8Array, data: Uint8Array): PackEntry {
    this.#parts.push(encodeFrameHeader(hash, data.length), data);
    const entry = { hash: bytesToHex(hash), offset: this.#bytes + FRAME_HEADER_BYTES, length: data.length };
    this.#entries.push(entry);
    this.#bytes += FRAME_HEADER_BYTES + data.length;
    return entry;
  }

  /** The pack's bytes as the pieces appended (no copy), for multipart uploads. */
  async *parts(): AsyncGenerator<Uint8Array> {
    for (const p of this.#parts) yield p;
  }

  encode(): Uint8Array {
    const out = new Uint8Array(this.#bytes);
    let at = 0;
    for (const p of this.#parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** Parses and verifies a whole pack; any damage is CORRUPT_DATA. */
export function scanPack(bytes: Uint8Array, maxChunkBytes: number): PackEntry[] {
  const corrupt = (m: string): never => {
    throw new StrataError("CORRUPT_DATA", `pack: ${m}`);
  };
  if (bytes.length < PACK_MAGIC.length || !PACK_MAGIC.every((b, i) => bytes[i] === b)) corrupt("bad magic");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: PackEntry[] = [];
  let at = PACK_MAGIC.length;
  while (at < bytes.length) {
    if (at + FRAME_HEADER_BYTES > bytes.length) corrupt(`truncated frame header at ${at}`);
    const length = view.getUint32(at + FRAME_HASH_BYTES, true);
    const offset = at + FRAME_HEADER_BYTES;
    if (length < 1 || length > maxChunkBytes || offset + length > bytes.length) corrupt(`bad frame length ${length} at ${at}`);
    const hash = bytesToHex(bytes.subarray(at, at + FRAME_HASH_BYTES));
    if (bytesToHex(blake3(bytes.subarray(offset, offset + length))) !== hash) corrupt(`chunk at ${offset} does not match its hash`);
    entries.push({ hash, offset, length });
    at = offset + length;
  }
  return entries;
}
