// Typed view of the BLAKE3 exports of the WebAssembly module (wasm/assembly/blake3.ts) and
// the bookkeeping that lets many JS hashers share its fixed state slots.
import { kernelView } from "../wasm.ts";

export interface Blake3Kernel {
  readonly memory: WebAssembly.Memory;
  blake3Input(): number;
  blake3InputSize(): number;
  blake3Key(): number;
  blake3Out(): number;
  blake3OutSize(): number;
  blake3SlotSize(): number;
  blake3Slot(slot: number): number;
  blake3Init(slot: number, useKey: number, flags: number): void;
  blake3Update(slot: number, ptr: number, len: number): void;
  blake3Finalize(slot: number, firstBlock: number, blocks: number): void;
  blake3Digest(slot: number, useKey: number, flags: number, len: number, blocks: number): void;
  blake3UseUnrolled(on: number): void;
}

const blake3Exports = kernelView<Blake3Kernel>({ blake3Input: true, blake3InputSize: true, blake3Key: true, blake3Out: true, blake3OutSize: true, blake3SlotSize: true, blake3Slot: true, blake3Init: true, blake3Update: true, blake3Finalize: true, blake3Digest: true, blake3UseUnrolled: true });

/** Slot use: streaming hashers share one (swapped on demand), one-shot calls use another. */
export const SLOT_STREAM = 0;
export const SLOT_ONESHOT = 1;
export const SLOT_CHUNKER = 2;

export const FLAG_KEYED_HASH = 16;
export const FLAG_DERIVE_KEY_CONTEXT = 32;
export const FLAG_DERIVE_KEY_MATERIAL = 64;

export interface KernelHandle {
  readonly k: Blake3Kernel;
  readonly input: number;
  readonly inputSize: number;
  readonly key: number;
  readonly out: number;
  readonly outSize: number;
  readonly slotSize: number;
  /** The module memory as bytes; re-created if the memory was grown. */
  bytes(): Uint8Array;
}

let handle: KernelHandle | undefined;

function isJavaScriptCore(): boolean {
  const versions = (globalThis as { process?: { versions?: Record<string, string | undefined> } }).process?.versions;
  return typeof versions?.bun === "string";
}

export function blake3Kernel(): KernelHandle {
  if (handle) return handle;
  const k = blake3Exports();
  // JavaScriptCore (Bun) compiles the fully unrolled 4-way kernel poorly; V8 prefers it.
  k.blake3UseUnrolled(isJavaScriptCore() ? 0 : 1);
  let view = new Uint8Array(k.memory.buffer);
  handle = {
    k,
    input: k.blake3Input(),
    inputSize: k.blake3InputSize(),
    key: k.blake3Key(),
    out: k.blake3Out(),
    outSize: k.blake3OutSize(),
    slotSize: k.blake3SlotSize(),
    bytes() {
      if (view.buffer !== k.memory.buffer) view = new Uint8Array(k.memory.buffer);
      return view;
    },
  };
  return handle;
}

/** Something whose state can occupy a shared slot; `saved` holds it while evicted. */
export interface SlotTenant {
  saved: Uint8Array | null;
}

const owners: (SlotTenant | null)[] = [null, null, null, null];

/** Makes `tenant` the occupant of `slot`, saving the previous occupant's state first. */
export function occupy(h: KernelHandle, slot: number, tenant: SlotTenant): void {
  const current = owners[slot];
  if (current === tenant) return;
  const base = h.k.blake3Slot(slot);
  const mem = h.bytes();
  if (current) current.saved = mem.slice(base, base + h.slotSize);
  if (tenant.saved) {
    mem.set(tenant.saved, base);
    tenant.saved = null;
  }
  owners[slot] = tenant;
}

/** Absorbs `data` into the hasher in `slot`, through the bounded input buffer. */
export function absorb(h: KernelHandle, slot: number, data: Uint8Array): void {
  for (let off = 0; off < data.length; off += h.inputSize) {
    const piece = data.subarray(off, Math.min(off + h.inputSize, data.length));
    h.bytes().set(piece, h.input);
    h.k.blake3Update(slot, h.input, piece.length);
  }
}

/** Reads `length` bytes of extended output of the hasher in `slot`. */
export function squeeze(h: KernelHandle, slot: number, length: number): Uint8Array {
  const result = new Uint8Array(length);
  const blocksPerCall = h.outSize >>> 6;
  for (let done = 0, block = 0; done < length; block += blocksPerCall) {
    const want = Math.min(length - done, h.outSize);
    h.k.blake3Finalize(slot, block, Math.ceil(want / 64));
    result.set(h.bytes().subarray(h.out, h.out + want), done);
    done += want;
  }
  return result;
}
