// Content-defined chunking (FastCDC 2020, see wasm/assembly/fastcdc.ts for the exact rule and
// the gear table), optionally hashing each chunk with BLAKE3 in the same pass. Boundaries
// are identical however the input is split into push() calls. In safetensors mode the
// header is one chunk and chunks never straddle a tensor boundary.
import { type SlotTenant, occupy, SLOT_CHUNKER } from "../hashing/blake3-kernel.ts";
import { CDC_STATE_SIZE, cdcKernel, type CdcHandle } from "./chunking-kernel.ts";
import { type ChunkSizes, type ResolvedChunkSizes, resolveChunkSizes } from "./chunking-params.ts";
import { type ForcedCuts, safetensorsCuts, safetensorsPrefixNeeded } from "./chunking-safetensors.ts";
import { StrataError } from "../errors.ts";

export { CHUNK_DEFAULTS, CHUNK_LIMITS, type ChunkSizes, resolveChunkSizes } from "./chunking-params.ts";
export { gearTable } from "./chunking-kernel.ts";

export interface ChunkBoundary {
  /** Byte offset of the chunk in the input. */
  offset: number;
  length: number;
}

export interface Chunk extends ChunkBoundary {
  /** BLAKE3-256 of the chunk's bytes: its identity. */
  hash: Uint8Array;
}

export interface ChunkerOptions extends ChunkSizes {
  /** Force boundaries at the safetensors header and tensor boundaries. */
  safetensors?: boolean;
}

/** A streaming chunker: push() bytes in any split, then end(). */
export class StreamingChunker<C extends ChunkBoundary = Chunk> {
  /** Holds the chunk hasher's kernel slot state while another chunker uses the slot. */
  readonly #tenant: SlotTenant = { saved: null };
  readonly sizes: ResolvedChunkSizes;
  readonly #h: CdcHandle;
  readonly #hash: boolean;
  readonly #state = new Uint8Array(CDC_STATE_SIZE);
  /** Absolute offset of the next byte pushed, and of the pending chunk's start. */
  #pos = 0;
  #chunkStart = 0;
  #ended = false;
  /** Safetensors mode: header bytes gathered until the cuts are known. */
  #prefix: Uint8Array[] | null = null;
  #prefixLength = 0;
  #forced: ForcedCuts = { headerEnd: 0, cuts: [] };
  #nextForced = 0;

  /** Use `createChunker` / `createBoundaryChunker`. */
  constructor(options: ChunkerOptions, hash: boolean) {
    this.sizes = resolveChunkSizes(options);
    this.#h = cdcKernel();
    this.#hash = hash;
    const dv = new DataView(this.#state.buffer);
    dv.setUint32(12, this.sizes.minSize, true);
    dv.setUint32(16, this.sizes.avgSize, true);
    dv.setUint32(20, this.sizes.maxSize, true);
    dv.setBigUint64(24, this.sizes.maskS, true);
    dv.setBigUint64(32, this.sizes.maskL, true);
    if (options.safetensors) this.#prefix = [];
    if (hash) {
      occupy(this.#h.blake3, SLOT_CHUNKER, this.#tenant);
      this.#h.k.cdcReset(1);
    }
  }

  /** Adds bytes; returns the chunks completed by them. */
  push(bytes: Uint8Array): C[] {
    if (!(bytes instanceof Uint8Array)) throw new StrataError("BAD_REQUEST", "chunking: input must be a Uint8Array");
    if (this.#ended) throw new StrataError("BAD_REQUEST", "chunking: push() after end()");
    const out: C[] = [];
    if (this.#prefix) {
      // Safetensors: hold bytes back (copied: the caller may reuse its buffer) until the whole
      // header is here, then feed everything through with the tensor boundaries known.
      const parts = this.#prefix;
      const total = this.#prefixLength + bytes.length;
      const need = safetensorsPrefixNeeded(concat(parts, bytes, Math.min(8, total)));
      if (total < need) {
        parts.push(bytes.slice());
        this.#prefixLength = total;
        return out;
      }
      this.#forced = safetensorsCuts(concat(parts, bytes, need));
      this.#prefix = null;
      for (const p of parts) this.#feed(p, out);
    }
    this.#feed(bytes, out);
    return out;
  }

  /** Ends the input; returns the last chunks. */
  end(): C[] {
    if (this.#ended) return [];
    const out: C[] = [];
    if (this.#prefix) {
      // Too short to hold the whole header: let the parser report how it is malformed.
      safetensorsCuts(concat(this.#prefix, new Uint8Array(0), this.#prefixLength));
    }
    this.#ended = true;
    this.#finish(out);
    return out;
  }

  #feed(bytes: Uint8Array, out: C[]): void {
    const h = this.#h;
    const k = h.k;
    const hash = this.#hash ? 1 : 0;
    let off = 0;
    while (off < bytes.length) {
      const cut = this.#forced.cuts[this.#nextForced] ?? Infinity;
      const take = Math.min(bytes.length - off, h.inputSize, cut - this.#pos);
      if (hash) occupy(h.blake3, SLOT_CHUNKER, this.#tenant);
      const mem = h.blake3.bytes();
      mem.set(bytes.subarray(off, off + take), h.input);
      mem.set(this.#state, h.state);
      if (this.#pos < this.#forced.headerEnd) {
        k.cdcAbsorb(take, hash);
      } else {
        const n = k.cdcProcess(take, hash);
        this.#collect(n, this.#pos, out);
      }
      this.#state.set(h.blake3.bytes().subarray(h.state, h.state + CDC_STATE_SIZE));
      this.#pos += take;
      off += take;
      if (this.#pos === cut) {
        this.#finish(out);
        this.#nextForced++;
      }
    }
  }

  #collect(n: number, base: number, out: C[]): void {
    if (n === 0) return;
    const h = this.#h;
    const mem = h.blake3.bytes();
    const cuts = new Uint32Array(mem.buffer, h.cuts, n);
    for (let i = 0; i < n; i++) {
      const end = base + cuts[i]!;
      out.push(this.#chunk(end, i));
    }
  }

  #chunk(end: number, index: number): C {
    const offset = this.#chunkStart;
    this.#chunkStart = end;
    if (!this.#hash) return { offset, length: end - offset } as C;
    const at = this.#h.hashes + 32 * index;
    return { offset, length: end - offset, hash: this.#h.blake3.bytes().slice(at, at + 32) } as ChunkBoundary as C;
  }

  #finish(out: C[]): void {
    if (this.#pos === this.#chunkStart) return;
    const h = this.#h;
    const hash = this.#hash ? 1 : 0;
    if (hash) occupy(h.blake3, SLOT_CHUNKER, this.#tenant);
    h.blake3.bytes().set(this.#state, h.state);
    h.k.cdcFinish(hash);
    this.#state.set(h.blake3.bytes().subarray(h.state, h.state + CDC_STATE_SIZE));
    out.push(this.#chunk(this.#pos, 0));
  }
}

/** The first `length` bytes of `parts` followed by `last`. */
function concat(parts: Uint8Array[], last: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let off = 0;
  for (const p of [...parts, last]) {
    if (off >= length) break;
    const take = Math.min(p.length, length - off);
    out.set(p.subarray(0, take), off);
    off += take;
  }
  return out;
}

/** A streaming chunker that hashes each chunk with BLAKE3. */
export function createChunker(options: ChunkerOptions = {}): StreamingChunker<Chunk> {
  return new StreamingChunker<Chunk>(options, true);
}

/** A streaming chunker that only finds boundaries (no hashing). */
export function createBoundaryChunker(options: ChunkerOptions = {}): StreamingChunker<ChunkBoundary> {
  return new StreamingChunker<ChunkBoundary>(options, false);
}

/** Chunks and hashes `data` in one call. */
export function chunk(data: Uint8Array, options: ChunkerOptions = {}): Chunk[] {
  const c = createChunker(options);
  const out = c.push(data);
  out.push(...c.end());
  return out;
}

/** Chunk boundaries of `data`, without hashing. */
export function chunkBoundaries(data: Uint8Array, options: ChunkerOptions = {}): ChunkBoundary[] {
  const c = createBoundaryChunker(options);
  const out = c.push(data);
  out.push(...c.end());
  return out;
}

/** Chunks and hashes a stream of byte pieces (a file read stream, a fetch body, ...). */
export async function* chunkStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: ChunkerOptions = {},
): AsyncGenerator<Chunk> {
  const c = createChunker(options);
  for await (const piece of source) yield* c.push(piece);
  yield* c.end();
}
