// The matching offsets of a filtered partition, stored compactly: unsigned LEB128 varints of the
// gaps between consecutive offsets (the first relative to the partition's pinned start), so a
// dense match costs one byte a sample. Decoded into a Float64Array for index lookups.
import { invariant, StrataError } from "../../core/errors.ts";

/** Packs ascending offsets, all >= start. */
export function packOffsets(start: number, offsets: readonly number[]): Uint8Array {
  const out = new Uint8Array(offsets.length * 8 + 8);
  let at = 0;
  let previous = start;
  for (const offset of offsets) {
    invariant(Number.isSafeInteger(offset) && offset >= previous, `match offsets ascend from ${start}: ${offset} after ${previous}`);
    let gap = offset - previous;
    while (gap >= 0x80) {
      out[at++] = (gap % 0x80) | 0x80;
      gap = Math.floor(gap / 0x80);
    }
    out[at++] = gap;
    previous = offset + 1;
  }
  return out.slice(0, at);
}

/** The offsets packed by packOffsets; `count` must be how many it packed. */
export function unpackOffsets(start: number, bytes: Uint8Array, count: number): Float64Array {
  const out = new Float64Array(count);
  let at = 0;
  let previous = start;
  for (let i = 0; i < count; i++) {
    let gap = 0;
    let scale = 1;
    for (;;) {
      if (at >= bytes.length) throw new StrataError("CORRUPT_DATA", `dataset match offsets end after ${i} of ${count}`);
      const byte = bytes[at++]!;
      gap += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 0x80;
    }
    out[i] = previous + gap;
    previous = out[i]! + 1;
  }
  if (at !== bytes.length) throw new StrataError("CORRUPT_DATA", `dataset match offsets: ${bytes.length - at} bytes past ${count} offsets`);
  return out;
}
