// BLAKE3 (https://github.com/BLAKE3-team/BLAKE3-specs): streaming hasher with SIMD subtrees.
// Mirrors the reference Hasher: a chunk state for the partial chunk, a lazily merged stack of
// chaining values, and whole power-of-two subtrees hashed 4 chunks (then 4 parents) at a time.
// Hasher states live in fixed slots; the caller saves/restores a slot to multiplex hashers.
import { compress, hash4, hash4Unrolled, IV0, IV1, IV2, IV3, IV4, IV5, IV6, IV7 } from "./blake3-compress";

// @ts-ignore: decorator
@inline const CHUNK_START: u32 = 1;
// @ts-ignore: decorator
@inline const CHUNK_END: u32 = 2;
// @ts-ignore: decorator
@inline const PARENT: u32 = 4;
// @ts-ignore: decorator
@inline const ROOT: u32 = 8;
// @ts-ignore: decorator
@inline const CHUNK_LEN: usize = 1024;

// Slot layout (bytes).
// @ts-ignore: decorator
@inline const S_KEY: usize = 0; // 8 words
// @ts-ignore: decorator
@inline const S_FLAGS: usize = 32;
// @ts-ignore: decorator
@inline const S_CV: usize = 36; // chunk chaining value, 8 words
// @ts-ignore: decorator
@inline const S_BLOCK: usize = 68; // 64-byte block buffer
// @ts-ignore: decorator
@inline const S_BLOCK_LEN: usize = 132;
// @ts-ignore: decorator
@inline const S_BLOCKS_DONE: usize = 136;
// @ts-ignore: decorator
@inline const S_STACK_LEN: usize = 140;
// @ts-ignore: decorator
@inline const S_COUNTER: usize = 144; // u64 chunk counter
// @ts-ignore: decorator
@inline const S_STACK: usize = 152; // up to 64 chaining values
const SLOT_SIZE: usize = 2208; // S_STACK + 64 * 32, rounded up
const SLOTS: i32 = 4;

const INPUT_SIZE: i32 = 1 << 20;
const MAX_SUBTREE_CHUNKS: usize = 1024;
const OUT_SIZE: i32 = 4096; // 64 output blocks per finalize call

const input: usize = memory.data(INPUT_SIZE, 16);
const slots: usize = memory.data(<i32>SLOT_SIZE * SLOTS, 16);
const keyBuf: usize = memory.data(32, 16);
const outBuf: usize = memory.data(OUT_SIZE, 16);
const cvScratch: usize = memory.data(<i32>MAX_SUBTREE_CHUNKS * 32, 16);
// Root output node: input cv (8 words), block (64 bytes), then scalars.
const node: usize = memory.data(96 + 16, 16);
const nodeCvOut: usize = memory.data(64, 16);
const ivKey: usize = memory.data<u32>([IV0, IV1, IV2, IV3, IV4, IV5, IV6, IV7], 16);
let nodeBlockLen: u32 = 0;
// Which 4-way kernel to use (see wasm/tools/gen-blake3-compress.mjs): the loader picks the
// unrolled one for V8 and the rolled one for JavaScriptCore.
let unrolled = false;
let nodeCounter: u64 = 0;
let nodeFlags: u32 = 0;

export function blake3UseUnrolled(on: bool): void {
  unrolled = on;
}

// @ts-ignore: decorator
@inline function hash4Any(
  p0: usize, p1: usize, p2: usize, p3: usize, blocks: i32, key: usize,
  counter: u64, incCounter: bool, flags: u32, flagsStart: u32, flagsEnd: u32, out: usize,
): void {
  if (unrolled) hash4Unrolled(p0, p1, p2, p3, blocks, key, counter, incCounter, flags, flagsStart, flagsEnd, out);
  else hash4(p0, p1, p2, p3, blocks, key, counter, incCounter, flags, flagsStart, flagsEnd, out);
}

export function blake3Input(): usize {
  return input;
}
export function blake3InputSize(): i32 {
  return INPUT_SIZE;
}
export function blake3Key(): usize {
  return keyBuf;
}
export function blake3Out(): usize {
  return outBuf;
}
export function blake3OutSize(): i32 {
  return OUT_SIZE;
}
export function blake3SlotSize(): i32 {
  return <i32>SLOT_SIZE;
}
export function blake3Slot(slot: i32): usize {
  return slots + <usize>(slot & (SLOTS - 1)) * SLOT_SIZE;
}

/** Resets a slot: key from blake3Key() when useKey, else the IV; flags are the mode flags. */
export function blake3Init(slot: i32, useKey: bool, flags: u32): void {
  const s = blake3Slot(slot);
  memory.copy(s + S_KEY, useKey ? keyBuf : ivKey, 32);
  memory.copy(s + S_CV, s + S_KEY, 32);
  store<u32>(s + S_FLAGS, flags);
  store<u32>(s + S_BLOCK_LEN, 0);
  store<u32>(s + S_BLOCKS_DONE, 0);
  store<u32>(s + S_STACK_LEN, 0);
  store<u64>(s + S_COUNTER, 0);
}

// @ts-ignore: decorator
@inline function startFlag(s: usize): u32 {
  return load<u32>(s + S_BLOCKS_DONE) == 0 ? CHUNK_START : 0;
}

/** Feeds bytes into the partial chunk (never more than completes it). */
function chunkUpdate(s: usize, p: usize, len: usize): void {
  const flags = load<u32>(s + S_FLAGS);
  const counter = load<u64>(s + S_COUNTER);
  let blockLen = <usize>load<u32>(s + S_BLOCK_LEN);
  if (blockLen > 0) {
    const take = min<usize>(64 - blockLen, len);
    memory.copy(s + S_BLOCK + blockLen, p, take);
    blockLen += take;
    p += take;
    len -= take;
    if (len > 0) {
      compress(s + S_CV, s + S_BLOCK, 64, counter, flags | startFlag(s), s + S_CV, false);
      store<u32>(s + S_BLOCKS_DONE, load<u32>(s + S_BLOCKS_DONE) + 1);
      blockLen = 0;
    }
  }
  while (len > 64) {
    compress(s + S_CV, p, 64, counter, flags | startFlag(s), s + S_CV, false);
    store<u32>(s + S_BLOCKS_DONE, load<u32>(s + S_BLOCKS_DONE) + 1);
    p += 64;
    len -= 64;
  }
  if (len > 0) {
    memory.copy(s + S_BLOCK + blockLen, p, len);
    blockLen += len;
  }
  store<u32>(s + S_BLOCK_LEN, <u32>blockLen);
}

// @ts-ignore: decorator
@inline function chunkLen(s: usize): usize {
  return (<usize>load<u32>(s + S_BLOCKS_DONE) << 6) + <usize>load<u32>(s + S_BLOCK_LEN);
}

/** Sets the output node to the current chunk's final block. */
function nodeFromChunk(s: usize): void {
  memory.copy(node, s + S_CV, 32);
  const blockLen = load<u32>(s + S_BLOCK_LEN);
  memory.fill(node + 32, 0, 64);
  memory.copy(node + 32, s + S_BLOCK, blockLen);
  nodeBlockLen = blockLen;
  nodeCounter = load<u64>(s + S_COUNTER);
  nodeFlags = load<u32>(s + S_FLAGS) | startFlag(s) | CHUNK_END;
}

/** Sets the output node to a parent of two adjacent chaining values at `pair`. */
function nodeFromParent(s: usize, pair: usize): void {
  memory.copy(node, s + S_KEY, 32);
  memory.copy(node + 32, pair, 64);
  nodeBlockLen = 64;
  nodeCounter = 0;
  nodeFlags = load<u32>(s + S_FLAGS) | PARENT;
}

function nodeChainingValue(out: usize): void {
  compress(node, node + 32, nodeBlockLen, nodeCounter, nodeFlags, out, false);
}

/** Merges completed subtrees so the stack holds one CV per 1 bit of totalChunks. */
function mergeStack(s: usize, totalChunks: u64): void {
  const post = <u32>popcnt(totalChunks);
  let n = load<u32>(s + S_STACK_LEN);
  const flags = load<u32>(s + S_FLAGS) | PARENT;
  while (n > post) {
    const pair = s + S_STACK + (<usize>(n - 2) << 5);
    compress(s + S_KEY, pair, 64, 0, flags, pair, false);
    n--;
  }
  store<u32>(s + S_STACK_LEN, n);
}

function pushCv(s: usize, cv: usize, chunkCounter: u64): void {
  mergeStack(s, chunkCounter);
  const n = load<u32>(s + S_STACK_LEN);
  memory.copy(s + S_STACK + (<usize>n << 5), cv, 32);
  store<u32>(s + S_STACK_LEN, n + 1);
}

/** Chaining value of one full chunk at p (not root), into out. */
function chunkCv(key: usize, p: usize, counter: u64, flags: u32, out: usize): void {
  memory.copy(out, key, 32);
  for (let b = 0; b < 16; b++) {
    const f = flags | (b == 0 ? CHUNK_START : 0) | (b == 15 ? CHUNK_END : 0);
    compress(out, p + (<usize>b << 6), 64, counter, f, out, false);
  }
}

/**
 * Hashes `chunks` (a power of two, >= 2) full chunks at p into the two chaining values of
 * the subtree's root children, written to cvScratch[0] and cvScratch[1].
 */
function hashSubtree(s: usize, p: usize, chunks: usize, counter: u64): void {
  const key = s + S_KEY;
  const flags = load<u32>(s + S_FLAGS);
  let i: usize = 0;
  for (; i + 4 <= chunks; i += 4) {
    const q = p + i * CHUNK_LEN;
    hash4Any(q, q + CHUNK_LEN, q + 2 * CHUNK_LEN, q + 3 * CHUNK_LEN, 16, key, counter + <u64>i, true,
      flags, CHUNK_START, CHUNK_END, cvScratch + (i << 5));
  }
  for (; i < chunks; i++) chunkCv(key, p + i * CHUNK_LEN, counter + <u64>i, flags, cvScratch + (i << 5));
  let n = chunks;
  const pflags = flags | PARENT;
  while (n > 2) {
    const parents = n >> 1;
    let j: usize = 0;
    for (; j + 4 <= parents; j += 4) {
      const q = cvScratch + (j << 6);
      hash4Any(q, q + 64, q + 128, q + 192, 1, key, 0, false, pflags, 0, 0, cvScratch + (j << 5));
    }
    for (; j < parents; j++) compress(key, cvScratch + (j << 6), 64, 0, pflags, cvScratch + (j << 5), false);
    n = parents;
  }
}

/** Absorbs memory[p, p + len) into the hasher in `slot`. */
export function blake3Update(slot: i32, p: usize, len: usize): void {
  const s = blake3Slot(slot);
  if (chunkLen(s) > 0) {
    const take = min(CHUNK_LEN - chunkLen(s), len);
    chunkUpdate(s, p, take);
    p += take;
    len -= take;
    if (len == 0) return;
    // The chunk is full and more input follows: it is not the root.
    nodeFromChunk(s);
    nodeChainingValue(nodeCvOut);
    const counter = load<u64>(s + S_COUNTER);
    pushCv(s, nodeCvOut, counter);
    memory.copy(s + S_CV, s + S_KEY, 32);
    store<u32>(s + S_BLOCK_LEN, 0);
    store<u32>(s + S_BLOCKS_DONE, 0);
    store<u64>(s + S_COUNTER, counter + 1);
  }
  while (len > CHUNK_LEN) {
    const counter = load<u64>(s + S_COUNTER);
    // Largest power-of-two run of chunks that fits the input, is aligned to the chunk count
    // so far (it must be a whole subtree) and fits the CV scratch.
    let chunks: usize = (<usize>1) << (31 - clz<u32>(<u32>(len / CHUNK_LEN)));
    if (chunks > MAX_SUBTREE_CHUNKS) chunks = MAX_SUBTREE_CHUNKS;
    while (((<u64>chunks - 1) & counter) != 0) chunks >>= 1;
    if (chunks == 1) {
      chunkCv(s + S_KEY, p, counter, load<u32>(s + S_FLAGS), nodeCvOut);
      pushCv(s, nodeCvOut, counter);
    } else {
      hashSubtree(s, p, chunks, counter);
      pushCv(s, cvScratch, counter);
      pushCv(s, cvScratch + 32, counter + <u64>(chunks >> 1));
    }
    store<u64>(s + S_COUNTER, counter + <u64>chunks);
    p += chunks * CHUNK_LEN;
    len -= chunks * CHUNK_LEN;
  }
  if (len > 0) {
    chunkUpdate(s, p, len);
    mergeStack(s, load<u64>(s + S_COUNTER));
  }
}

/** Computes the root output node of the hasher in `slot` (the slot is left unchanged). */
function rootNode(s: usize): void {
  let n = load<u32>(s + S_STACK_LEN);
  if (n == 0 || chunkLen(s) > 0) {
    nodeFromChunk(s);
  } else {
    nodeFromParent(s, s + S_STACK + (<usize>(n - 2) << 5));
    n -= 2;
  }
  while (n > 0) {
    nodeChainingValue(nodeCvOut + 32);
    memory.copy(nodeCvOut, s + S_STACK + (<usize>(n - 1) << 5), 32);
    nodeFromParent(s, nodeCvOut);
    n--;
  }
}

/**
 * Writes `blocks` (<= 64) 64-byte blocks of the extended output, starting at output block
 * `firstBlock`, to blake3Out().
 */
export function blake3Finalize(slot: i32, firstBlock: u32, blocks: i32): void {
  rootNode(blake3Slot(slot));
  const n = min(max(blocks, 0), OUT_SIZE >> 6);
  for (let i = 0; i < n; i++) {
    compress(node, node + 32, nodeBlockLen, <u64>(firstBlock + <u32>i), nodeFlags | ROOT, outBuf + (<usize>i << 6), true);
  }
}

/**
 * One call for inputs that fit the input buffer: init `slot`, absorb blake3Input()[0, len),
 * write `blocks` output blocks to blake3Out(). Saves small inputs several boundary crossings.
 */
export function blake3Digest(slot: i32, useKey: bool, flags: u32, len: i32, blocks: i32): void {
  blake3Init(slot, useKey, flags);
  blake3Update(slot, input, <usize>min(max(len, 0), INPUT_SIZE));
  blake3Finalize(slot, 0, blocks);
}
