// Uploading a local file to an ObjectStore without holding it in memory whole: one put for a file
// of at most `partBytes`, else a multipart upload streamed from the file in parts of `partBytes`.
// The generic way to do ObjectStore.putFile; stores with a cheaper one (a hard link in the local
// directory store) use their own.
import { open, readFile, type FileHandle } from "node:fs/promises";
import { StrataError } from "../../core/errors.ts";
import { errorText } from "./errno.ts";
import type { ObjectInfo, ObjectStore } from "./object-store.ts";

export async function putFileInParts(store: ObjectStore, key: string, path: string, partBytes: number): Promise<ObjectInfo> {
  const size = await fileSize(path);
  if (size <= partBytes) return store.put(key, await readSource(path));
  return store.putMultipart(key, fileChunks(path, size, partBytes), { partSize: partBytes });
}

/** Stores `path` under `key` with the store's own putFile when it has one, else in parts. */
export function putFile(store: ObjectStore, key: string, path: string, partBytes: number): Promise<ObjectInfo> {
  return store.putFile ? store.putFile(key, path, { partSize: partBytes }) : putFileInParts(store, key, path, partBytes);
}

export async function fileSize(path: string): Promise<number> {
  const fh = await openSource(path);
  try {
    return (await fh.stat()).size;
  } finally {
    await fh.close();
  }
}

async function openSource(path: string): Promise<FileHandle> {
  try {
    return await open(path, "r");
  } catch (e) {
    throw sourceError(path, e);
  }
}

async function readSource(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw sourceError(path, e);
  }
}

function sourceError(path: string, e: unknown): StrataError {
  return new StrataError("STORAGE_ERROR", `cannot read source file ${path}: ${errorText(e)}`, { cause: e });
}

async function* fileChunks(path: string, size: number, partBytes: number): AsyncIterable<Uint8Array> {
  const fh = await openSource(path);
  try {
    for (let pos = 0; pos < size; pos += partBytes) {
      const want = Math.min(partBytes, size - pos);
      const chunk = new Uint8Array(want);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await fh.read(chunk, got, want - got, pos + got);
        if (bytesRead === 0) throw new StrataError("STORAGE_ERROR", `${path} shorter than ${size} bytes`);
        got += bytesRead;
      }
      yield chunk;
    }
  } finally {
    await fh.close();
  }
}
