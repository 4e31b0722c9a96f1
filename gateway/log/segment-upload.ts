// Uploads a sealed local segment file to its object key with the store's putFile: a hard link
// into the local directory store (the bytes are not written a second time), a single put or a
// multipart upload streamed from the file for S3 (a 64 MiB segment is never held in memory whole).
import { StrataError } from "../../core/errors.ts";
import { putFile } from "../objects/object-file.ts";
import type { ObjectStore } from "../objects/object-store.ts";

export async function uploadSegmentFile(
  store: ObjectStore,
  key: string,
  path: string,
  size: number,
  partBytes: number,
): Promise<void> {
  const info = await putFile(store, key, path, partBytes);
  if (info.size !== size) {
    throw new StrataError("STORAGE_ERROR", `uploaded ${key} has ${info.size} bytes, expected ${size}`);
  }
}
