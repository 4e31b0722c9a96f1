// Pack objects (packs/<id>.pack, or packs/<node>/<id>.pack in a cluster): an 8-byte magic
// "STRPACK1" followed by chunk frames [32-byte hash][u32 LE length][bytes]
// (core/artefacts/chunk-frames.ts). Self-describing, so a pack found in the object store without
// index rows (an upload cut short before its commit) can be indexed.
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

/**
 * Where a gateway writes its packs: one gateway alone uses packs/<id>.pack; in a cluster each
 * gateway writes under its node name (packs/<node>/<id>.pack), so start-up recovery can list its
 * own packs and never another gateway's uploads in flight. Reads take the key from the pack's
 * index row, so packs of both layouts stay readable by every gateway.
 */
export type PackLayout = { readonly kind: "single" } | { readonly kind: "node"; readonly node: string };

export const SINGLE_GATEWAY_LAYOUT: PackLayout = Object.freeze({ kind: "single" });

export function packKey(id: string, layout: PackLayout = SINGLE_GATEWAY_LAYOUT): string {
  return `${packPrefix(layout)}${id}.pack`;
}

/** The prefix holding a layout's packs (the single layout's prefix also lists every node's). */
export function packPrefix(layout: PackLayout): string {
  return layout.kind === "single" ? PACK_PREFIX : `${PACK_PREFIX}${layout.node}/`;
}

export interface PackKeyParts {
  readonly id: string;
  /** The node that wrote it; undefined for the single-gateway layout. */
  readonly node: string | undefined;
}

/** The parts of a key made by packKey (either layout), or undefined for any other key. */
export function parsePackKey(key: string): PackKeyParts | undefined {
  const m = /^packs\/(?:([A-Za-z0-9][A-Za-z0-9._-]{0,63})\/)?([0-9a-f]{16}-[0-9a-f]{16})\.pack$/.exec(key);
  return m ? { id: m[2]!, node: m[1] } : undefined;
}

/** A fresh pack id: 16 hex digits of milliseconds, then 16 random hex digits (sorts by age). */
export function newPackId(): string {
  const random = new Uint8Array(8);
  crypto.getRandomValues(random);
  return `${Date.now().toString(16).padStart(16, "0")}-${bytesToHex(random)}`;
}

/** The writer's clock (ms) when a pack got its id. */
export function packIdTime(id: string): number {
  return parseInt(id.slice(0, 16), 16);
}

/** Builds one pack in memory: append frames, then bytes() for the upload. */
export class PackBuilder {
  #id: string | undefined;
  readonly #parts: Uint8Array[] = [PACK_MAGIC];
  readonly #entries: PackEntry[] = [];
  #bytes = PACK_MAGIC.length;

  /**
   * Fixed at its first read, which callers make once the pack is complete (at seal): the id's
   * time is then when the pack was sealed, which bounds how late its commit may come (node-fence.ts).
   */
  get id(): string {
    this.#id ??= newPackId();
    return this.#id;
  }

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
