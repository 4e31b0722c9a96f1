// Chunks and hashes a file as it is read (FastCDC + BLAKE3 from the core), in safetensors mode
// when the file is a safetensors file: its name ends in `.safetensors` (then it must parse), or
// its header parses and its tensors end exactly at the end of the file.
import { fstatSync, readSync } from "node:fs";
import { type Chunk, createChunker } from "../../core/chunking/chunking.ts";
import { StrataError } from "../../core/errors.ts";
import { DEFAULT_MAX_HEADER_BYTES, parseSafetensorsHeader, type SafetensorsHeader } from "../../core/tensors/safetensors.ts";

export interface FileChunk {
  readonly offset: number;
  readonly length: number;
  readonly hash: Uint8Array;
}

function readFully(fd: number, into: Uint8Array, position: number): number {
  let got = 0;
  while (got < into.length) {
    const n = readSync(fd, into, got, into.length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** Reads `length` bytes at `position`, failing if the file is shorter (it changed under us). */
export function readExactly(fd: number, position: number, length: number, what: string): Uint8Array {
  const out = new Uint8Array(length);
  const got = readFully(fd, out, position);
  if (got !== length) throw new StrataError("CORRUPT_DATA", `${what}: file ended at ${position + got}, expected ${position + length} (did it change during the transfer?)`);
  return out;
}

/**
 * The safetensors header when the open file is a complete safetensors file, else null.
 * With `required`, a file that does not parse is an INVALID_SAFETENSORS error instead.
 */
export function sniffSafetensors(fd: number, size: number, required: boolean): SafetensorsHeader | null {
  const fail = (message: string): null => {
    if (required) throw new StrataError("INVALID_SAFETENSORS", message);
    return null;
  };
  if (size < 8) return fail(`file is ${size} bytes, too short for a safetensors header`);
  const lengthBytes = readExactly(fd, 0, 8, "safetensors header");
  const dv = new DataView(lengthBytes.buffer);
  const headerLength = dv.getUint32(4, true) * 2 ** 32 + dv.getUint32(0, true);
  if (headerLength > DEFAULT_MAX_HEADER_BYTES || 8 + headerLength > size) return fail(`header length ${headerLength} does not fit the file (${size} bytes)`);
  const prefix = readExactly(fd, 0, 8 + headerLength, "safetensors header");
  let header: SafetensorsHeader;
  try {
    header = parseSafetensorsHeader(prefix);
  } catch (e) {
    return fail((e as Error).message);
  }
  if (header.dataStart + header.dataLength !== size) {
    return fail(`tensors end at ${header.dataStart + header.dataLength}, file is ${size} bytes`);
  }
  return header;
}

export interface ChunkFileOptions {
  /** Bytes per read call. */
  readonly readBytes: number;
  /** Force safetensors mode on (true), off (false), or detect (undefined). */
  readonly safetensors?: boolean;
  /** Called with the byte count after each read. */
  readonly onRead?: (bytes: number) => void;
}

export interface ChunkedFile {
  readonly size: number;
  readonly safetensors: SafetensorsHeader | null;
  /** Chunks in file order, yielded as each read completes them. */
  readonly chunks: AsyncGenerator<FileChunk[]>;
}

/** Chunks the open file `fd` (named `path` in messages); the caller keeps and closes `fd`. */
export function chunkFile(fd: number, path: string, options: ChunkFileOptions): ChunkedFile {
  const stat = fstatSync(fd);
  if (!stat.isFile()) throw new StrataError("BAD_REQUEST", `${path} is not a regular file`);
  const size = stat.size;
  const header =
    options.safetensors === false ? null : sniffSafetensors(fd, size, options.safetensors === true || path.toLowerCase().endsWith(".safetensors"));
  const chunker = createChunker({ safetensors: header !== null });
  async function* run(): AsyncGenerator<FileChunk[]> {
    const buffer = new Uint8Array(options.readBytes);
    let position = 0;
    for (;;) {
      const n = readFully(fd, buffer, position);
      if (n === 0) break;
      position += n;
      const out: Chunk[] = chunker.push(buffer.subarray(0, n));
      options.onRead?.(n);
      if (out.length > 0) yield out;
      // Let uploads and progress run between reads.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (position !== size) throw new StrataError("CORRUPT_DATA", `${path} changed while it was read (${size} bytes at start, ${position} read)`);
    const last = chunker.end();
    if (last.length > 0) yield last;
  }
  return { size, safetensors: header, chunks: run() };
}
