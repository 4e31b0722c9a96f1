// Uploads a sealed local segment file to its object key: one put for small segments, a multipart
// upload streamed from the file for large ones (so a 64 MiB segment is never held in memory whole).
import { open, readFile } from "node:fs/promises";
import { StrataError } from "../../core/errors.ts";
import type { ObjectStore } from "./object-store.ts";
import { readAt } from "./wal.ts";

export async function uploadSegmentFile(
  store: ObjectStore,
  key: string,
  path: string,
  size: number,
  partBytes: number,
): Promise<void> {
  const info = size <= partBytes
    ? await store.put(key, await readFile(path))
    : await store.putMultipart(key, fileChunks(path, size, partBytes), { partSize: partBytes });
  if (info.size !== size) {
    throw new StrataError("STORAGE_ERROR", `uploaded ${key} has ${info.size} bytes, expected ${size}`);
  }
}

async function* fileChunks(path: string, size: number, partBytes: number): AsyncIterable<Uint8Array> {
  const fh = await open(path, "r");
  try {
    for (let pos = 0; pos < size; pos += partBytes) {
      const chunk = await readAt(fh, pos, Math.min(partBytes, size - pos));
      if (chunk.length === 0) throw new StrataError("STORAGE_ERROR", `${path} shorter than ${size} bytes`);
      yield chunk;
    }
  } finally {
    await fh.close();
  }
}
