// Stamps the gateway's clock into a client-built batch's header. The timestamps sit inside the
// CRC (bytes [32, 48)), so the CRC is fixed up arithmetically instead of rehashing the batch:
// CRC32C is linear, so changing 16 bytes that are followed by n bytes changes the CRC by the CRC
// of the 16-byte difference carried through n zero bytes, which is one multiplication by
// x^(8n) mod P (zlib's crc32_combine method), a few dozen operations whatever the batch size.
import { crc32c } from "../hashing/crc32c.ts";
import { BATCH_HEADER_SIZE } from "./batch.ts";

const POLY = 0x82f63b78; // reflected Castagnoli
const TIMESTAMPS_AT = 32;
const TIMESTAMPS_END = 48;

/** a * b mod P, both polynomials in reflected form (bit 31 is x^0). */
function multModP(a: number, b: number): number {
  let m = 0x8000_0000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** X2N[k] = x^(2^k) mod P. */
const X2N: Uint32Array = (() => {
  const t = new Uint32Array(32);
  let p = 0x4000_0000; // x^1
  t[0] = p;
  for (let k = 1; k < 32; k++) t[k] = p = multModP(p, p);
  return t;
})();

/** x^(n * 2^k) mod P. */
function x2nModP(n: number, k: number): number {
  let p = 0x8000_0000; // x^0
  while (n > 0) {
    if (n & 1) p = multModP(X2N[k & 31]!, p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

const ZERO_TIMESTAMPS = new Uint8Array(TIMESTAMPS_END - TIMESTAMPS_AT);

/**
 * Writes `timestamp` as both the first and the max timestamp of `batch` (a whole, CRC-checked
 * batch whose records all have delta 0) and updates its CRC to match, in place.
 */
export function stampBatchTimestamp(batch: Uint8Array, timestamp: number): void {
  const view = new DataView(batch.buffer, batch.byteOffset, BATCH_HEADER_SIZE);
  const length = view.getUint32(4, true);
  const before = batch.slice(TIMESTAMPS_AT, TIMESTAMPS_END);
  for (const at of [32, 40]) {
    view.setUint32(at, timestamp >>> 0, true);
    view.setUint32(at + 4, Math.floor(timestamp / 0x1_0000_0000), true);
  }
  const diff = new Uint8Array(before.length);
  for (let i = 0; i < diff.length; i++) diff[i] = before[i]! ^ batch[TIMESTAMPS_AT + i]!;
  // crc(a) ^ crc(b) over equal lengths is the CRC of a ^ b without the init and final xor.
  const rawDiff = (crc32c(diff) ^ crc32c(ZERO_TIMESTAMPS)) >>> 0;
  const shifted = multModP(x2nModP(length - TIMESTAMPS_END, 3), rawDiff);
  view.setUint32(16, (view.getUint32(16, true) ^ shifted) >>> 0, true);
}
