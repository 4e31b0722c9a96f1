// Read buffers without the zero fill: for buffers that a read overwrites completely before anyone
// sees them (zeroing a fresh 16 MiB costs about as much as reading it from the page cache).
import { Buffer } from "node:buffer";

/** A buffer of `length` bytes with its own ArrayBuffer (never a pooled slice), not zero-filled. */
export function uninitialized(length: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(length);
  return new Uint8Array(b.buffer, b.byteOffset, length);
}
