// Files and helpers shared by the artefact tests: deterministic plain files and models, byte
// comparison by BLAKE3, the chunks a file is cut into.
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { blake3Hex } from "../../core/hashing/blake3.ts";
import { chunkFile, type FileChunk } from "../../edge/artefacts/file-chunks.ts";

/** A file of `bytes` pseudo-random bytes (xorshift32 from `seed`). */
export function writePlainFile(path: string, bytes: number, seed: number): void {
  const out = new Uint8Array(Math.ceil(bytes / 4) * 4);
  const words = new Uint32Array(out.buffer);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  writeFileSync(path, out.subarray(0, bytes));
}

export function fileHash(path: string): string {
  return blake3Hex(readFileSync(path));
}

/** The chunks push would cut `path` into. */
export async function chunksOf(path: string): Promise<FileChunk[]> {
  const fd = openSync(path, "r");
  try {
    const out: FileChunk[] = [];
    for await (const batch of chunkFile(fd, path, { readBytes: 1 << 20 }).chunks) out.push(...batch);
    return out;
  } finally {
    closeSync(fd);
  }
}

export function path(dir: string, name: string): string {
  return join(dir, name);
}
