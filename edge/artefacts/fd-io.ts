// Positional reads and writes on a raw file descriptor, as promises (node:fs/promises offers them
// only on FileHandle objects, which the chunk cache would have to keep one of per pack anyway).
import { fdatasync, read, write } from "node:fs";

/** Writes all of `bytes` at `position`. */
export async function writeAt(fd: number, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const offset = done;
    done += await new Promise<number>((resolve, reject) =>
      write(fd, bytes, offset, bytes.length - offset, position + offset, (e, n) => (e ? reject(e) : resolve(n))),
    );
  }
}

/** Reads exactly `into.length` bytes at `position`; false when the file ends first. */
export async function readAt(fd: number, into: Uint8Array, position: number): Promise<boolean> {
  let done = 0;
  while (done < into.length) {
    const offset = done;
    const n = await new Promise<number>((resolve, reject) =>
      read(fd, into, offset, into.length - offset, position + offset, (e, got) => (e ? reject(e) : resolve(got))),
    );
    if (n === 0) return false;
    done += n;
  }
  return true;
}

export function dataSync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
}
