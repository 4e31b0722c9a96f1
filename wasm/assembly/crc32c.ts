// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), slicing-by-8.
// The caller copies input into crc32cBuffer() and passes the raw (pre-inverted) register.

const CRC_BUFFER_SIZE: i32 = 256 * 1024;
const crcBuffer: usize = memory.data(CRC_BUFFER_SIZE, 16);
// 8 tables x 256 u32: TABLE[k][b] = CRC of byte b followed by k zero bytes.
const crcTables: usize = memory.data(8 * 256 * 4, 16);
let crcReady = false;

function crcInit(): void {
  for (let b: u32 = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    store<u32>(crcTables + (b << 2), c);
  }
  for (let b: u32 = 0; b < 256; b++) {
    let c = load<u32>(crcTables + (b << 2));
    for (let k: u32 = 1; k < 8; k++) {
      c = load<u32>(crcTables + ((c & 0xff) << 2)) ^ (c >>> 8);
      store<u32>(crcTables + (((k << 8) + b) << 2), c);
    }
  }
  crcReady = true;
}

export function crc32cBuffer(): usize {
  return crcBuffer;
}

export function crc32cBufferSize(): i32 {
  return CRC_BUFFER_SIZE;
}

// @ts-ignore: decorator
@inline function tab(k: u32, b: u32): u32 {
  return load<u32>(crcTables + (((k << 8) | b) << 2));
}

/** Updates the raw CRC register over crcBuffer[0, len) (len is clamped to the buffer). */
export function crc32cUpdate(crc: u32, len: i32): u32 {
  if (!crcReady) crcInit();
  let n = <usize>min(max(len, 0), CRC_BUFFER_SIZE);
  let p = crcBuffer;
  const end = p + n;
  const end8 = p + (n & ~<usize>7);
  while (p < end8) {
    const w = load<u64>(p);
    const lo = <u32>w ^ crc;
    const hi = <u32>(w >>> 32);
    crc =
      tab(7, lo & 0xff) ^ tab(6, (lo >>> 8) & 0xff) ^ tab(5, (lo >>> 16) & 0xff) ^ tab(4, lo >>> 24) ^
      tab(3, hi & 0xff) ^ tab(2, (hi >>> 8) & 0xff) ^ tab(1, (hi >>> 16) & 0xff) ^ tab(0, hi >>> 24);
    p += 8;
  }
  while (p < end) {
    crc = tab(0, (crc ^ <u32>load<u8>(p)) & 0xff) ^ (crc >>> 8);
    p++;
  }
  return crc;
}
