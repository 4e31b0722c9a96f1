// FastCDC (Xia et al., "The Design of Fast Content-Defined Chunking for Data Deduplication
// Based Storage Systems", IEEE TPDS 2020): gear rolling hash, normalized chunking (a harder
// mask before the normal size, an easier one after), rolling two bytes per step.
//
// Semantics, per chunk (offsets relative to the chunk start):
//   bytes [0, min) are skipped; from offset min on, fp = (fp << 1) + GEAR[byte] (mod 2^64),
//   starting from fp = 0; the chunk ends after the first byte at offset i where
//   (fp & MASK) == 0, with MASK = maskS while i < normal and maskL after; or at offset max.
// The whole scan state is (fp, offset), kept between calls, so boundaries do not depend on
// how the input is split into calls. Two bytes per step uses GEAR_LS[b] = GEAR[b] << 1:
//   a = (fp << 2) + GEAR_LS[b0] is fp-after-b0 shifted left by one, tested with MASK << 1
//   (masks never use bit 63), and a + GEAR[b1] is exactly fp-after-b1.
//
// GEAR[i] is the i-th output of SplitMix64 seeded with 0x5354524154414344 ("STRATACD"):
//   state += 0x9E3779B97F4A7C15; z = state; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
//   z = (z ^ (z >> 27)) * 0x94D049BB133111EB; GEAR[i] = z ^ (z >> 31).
import { blake3Finalize, blake3Init, blake3Out, blake3Update } from "./blake3";

const CDC_INPUT_SIZE: i32 = 1 << 20;
// Minimum chunk size is at least 64, so one call cuts at most INPUT / 65 + 1 chunks.
const CDC_CAPACITY: i32 = (CDC_INPUT_SIZE >> 6) + 2;
const HASH_SLOT: i32 = 2;

const cdcIn: usize = memory.data(CDC_INPUT_SIZE, 16);
const cuts: usize = memory.data(CDC_CAPACITY * 4, 16);
const hashes: usize = memory.data(CDC_CAPACITY * 32, 16);
const gear: usize = memory.data(256 * 8, 16);
const gearLs: usize = memory.data(256 * 8, 16);
// State: fp u64 @0, offset u32 @8, min u32 @12, normal u32 @16, max u32 @20,
// maskS u64 @24, maskL u64 @32.
const state: usize = memory.data(40, 16);
let gearReady = false;

function gearInit(): void {
  let s: u64 = 0x5354524154414344;
  for (let i: usize = 0; i < 256; i++) {
    s += 0x9e3779b97f4a7c15;
    let z = s;
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111eb;
    z = z ^ (z >>> 31);
    store<u64>(gear + (i << 3), z);
    store<u64>(gearLs + (i << 3), z << 1);
  }
  gearReady = true;
}

export function cdcInput(): usize {
  return cdcIn;
}
export function cdcInputSize(): i32 {
  return CDC_INPUT_SIZE;
}
export function cdcState(): usize {
  return state;
}
export function cdcCuts(): usize {
  return cuts;
}
export function cdcHashes(): usize {
  return hashes;
}
/** GEAR table (256 u64), for documentation and tests. */
export function cdcGear(): usize {
  if (!gearReady) gearInit();
  return gear;
}

/** Starts a new chunk: fingerprint and offset to 0, and (when hashing) a fresh hasher. */
export function cdcReset(hash: bool): void {
  store<u64>(state, 0);
  store<u32>(state + 8, 0);
  if (hash) blake3Init(HASH_SLOT, false, 0);
}

/**
 * Scans [p, end) with mask m from chunk offset `offset`; returns the cut (pointer just past
 * the chunk's last byte) or 0 when none falls inside. The final fingerprint is left in fpOut.
 */
let fpOut: u64 = 0;
// @ts-ignore: decorator
@inline function scan(p: usize, end: usize, fp: u64, m: u64): usize {
  const m2 = m << 1;
  // Four bytes per iteration with one branch; on a hit, the two-byte loop below finds it.
  while (p + 3 < end) {
    const a0 = (fp << 2) + load<u64>(gearLs + (<usize>load<u8>(p) << 3));
    const f0 = a0 + load<u64>(gear + (<usize>load<u8>(p, 1) << 3));
    const a1 = (f0 << 2) + load<u64>(gearLs + (<usize>load<u8>(p, 2) << 3));
    const f1 = a1 + load<u64>(gear + (<usize>load<u8>(p, 3) << 3));
    if (((a0 & m2) == 0) | ((f0 & m) == 0) | ((a1 & m2) == 0) | ((f1 & m) == 0)) break;
    fp = f1;
    p += 4;
  }
  while (p + 1 < end) {
    const a = (fp << 2) + load<u64>(gearLs + (<usize>load<u8>(p) << 3));
    fp = a + load<u64>(gear + (<usize>load<u8>(p, 1) << 3));
    if (((a & m2) == 0) | ((fp & m) == 0)) {
      return (a & m2) == 0 ? p + 1 : p + 2;
    }
    p += 2;
  }
  if (p < end) {
    fp = (fp << 1) + load<u64>(gear + (<usize>load<u8>(p) << 3));
    if ((fp & m) == 0) return p + 1;
  }
  fpOut = fp;
  return 0;
}

/** Records a cut at buffer offset `at`, finishing the chunk hash (hash bytes [from, at) first). */
// @ts-ignore: decorator
@inline function emit(n: i32, at: usize, from: usize, hash: bool): void {
  store<u32>(cuts + (<usize>n << 2), <u32>(at - cdcIn));
  if (hash) {
    blake3Update(HASH_SLOT, from, at - from);
    blake3Finalize(HASH_SLOT, 0, 1);
    memory.copy(hashes + (<usize>n << 5), blake3Out(), 32);
    blake3Init(HASH_SLOT, false, 0);
  }
}

/**
 * Chunks cdcInput()[0, len) continuing the current state. Writes the buffer offset of each
 * cut to cdcCuts() (and, when hashing, each finished chunk's BLAKE3 to cdcHashes()); bytes
 * after the last cut stay pending in the state. Returns the number of cuts.
 */
export function cdcProcess(len: i32, hash: bool): i32 {
  if (!gearReady) gearInit();
  const end = cdcIn + <usize>min(max(len, 0), CDC_INPUT_SIZE);
  const min_ = load<u32>(state + 12);
  const normal = load<u32>(state + 16);
  const max_ = load<u32>(state + 20);
  const maskS = load<u64>(state + 24);
  const maskL = load<u64>(state + 32);
  let fp = load<u64>(state);
  let offset = load<u32>(state + 8);
  let p = cdcIn;
  let chunkStart = cdcIn; // where the pending chunk's bytes in this buffer begin
  let n: i32 = 0;
  while (p < end) {
    const avail = <u32>(end - p);
    let cut: usize = 0;
    if (offset < min_) {
      const skip = min(min_ - offset, avail);
      p += skip;
      offset += skip;
      continue;
    }
    if (offset < normal) {
      const stop = p + <usize>min(normal - offset, avail);
      cut = scan(p, stop, fp, maskS);
      if (cut == 0) {
        fp = fpOut;
        offset += <u32>(stop - p);
        p = stop;
        continue;
      }
    } else if (offset < max_) {
      const stop = p + <usize>min(max_ - offset, avail);
      cut = scan(p, stop, fp, maskL);
      if (cut == 0) {
        fp = fpOut;
        offset += <u32>(stop - p);
        p = stop;
        continue;
      }
    } else {
      cut = p; // offset == max
    }
    emit(n++, cut, chunkStart, hash);
    chunkStart = cut;
    p = cut;
    fp = 0;
    offset = 0;
  }
  if (offset == max_ && offset > 0) {
    // A chunk that reached max exactly at the end of the buffer ends here.
    emit(n++, end, chunkStart, hash);
    chunkStart = end;
    fp = 0;
    offset = 0;
  }
  if (hash && end > chunkStart) blake3Update(HASH_SLOT, chunkStart, end - chunkStart);
  store<u64>(state, fp);
  store<u32>(state + 8, offset);
  return n;
}

/** Adds cdcInput()[0, len) to the pending chunk without looking for cuts (forced regions). */
export function cdcAbsorb(len: i32, hash: bool): void {
  const n = <usize>min(max(len, 0), CDC_INPUT_SIZE);
  if (hash) blake3Update(HASH_SLOT, cdcIn, n);
  store<u32>(state + 8, load<u32>(state + 8) + <u32>n);
}

/** Ends the pending chunk (end of input or a forced boundary): writes its hash to cdcHashes()[0]. */
export function cdcFinish(hash: bool): i32 {
  const pending = load<u32>(state + 8);
  if (pending == 0) return 0;
  if (hash) {
    blake3Finalize(HASH_SLOT, 0, 1);
    memory.copy(hashes, blake3Out(), 32);
  }
  store<u32>(cuts, 0);
  cdcReset(hash);
  return 1;
}
