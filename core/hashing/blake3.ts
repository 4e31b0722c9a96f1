// BLAKE3: one-shot, keyed, derive-key, extended output and a streaming hasher, all on the
// SIMD WebAssembly kernel. Output is 32 bytes unless a length is given (any length up to
// 2^32 64-byte blocks: the extended-output counter is kept to 32 bits).
import { StrataError } from "../errors.ts";
import {
  absorb,
  blake3Kernel,
  FLAG_DERIVE_KEY_CONTEXT,
  FLAG_DERIVE_KEY_MATERIAL,
  FLAG_KEYED_HASH,
  type KernelHandle,
  occupy,
  SLOT_ONESHOT,
  SLOT_STREAM,
  type SlotTenant,
  squeeze,
} from "./blake3-kernel.ts";
import { bytesToHex } from "../util/hex.ts";

export { bytesToHex, hexToBytes } from "../util/hex.ts";

export const BLAKE3_OUT_LEN = 32;
export const BLAKE3_KEY_LEN = 32;
/** Largest output one call returns (the JS array limit is the practical bound anyway). */
export const BLAKE3_MAX_OUTPUT = 2 ** 30;

export type Blake3Input = Uint8Array | string;

const utf8 = new TextEncoder();

function toBytes(data: Blake3Input, what: string): Uint8Array {
  if (typeof data === "string") return utf8.encode(data);
  if (data instanceof Uint8Array) return data;
  throw new StrataError("BAD_REQUEST", `blake3: ${what} must be a Uint8Array or a string`);
}

function checkLength(length: number | undefined): number {
  const n = length ?? BLAKE3_OUT_LEN;
  if (!Number.isSafeInteger(n) || n < 0 || n > BLAKE3_MAX_OUTPUT) {
    throw new StrataError("BAD_REQUEST", `blake3: output length must be an integer in [0, ${BLAKE3_MAX_OUTPUT}], got ${String(length)}`);
  }
  return n;
}

function checkKey(key: Uint8Array): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== BLAKE3_KEY_LEN) {
    throw new StrataError("BAD_REQUEST", `blake3: key must be ${BLAKE3_KEY_LEN} bytes`);
  }
  return key;
}

function init(h: KernelHandle, slot: number, flags: number, key: Uint8Array | null): void {
  if (key) h.bytes().set(key, h.key);
  h.k.blake3Init(slot, key ? 1 : 0, flags);
}

function oneShot(flags: number, key: Uint8Array | null, data: Uint8Array, length: number): Uint8Array {
  const h = blake3Kernel();
  if (data.length <= h.inputSize && length <= h.outSize) {
    const mem = h.bytes();
    if (key) mem.set(key, h.key);
    mem.set(data, h.input);
    h.k.blake3Digest(SLOT_ONESHOT, key ? 1 : 0, flags, data.length, Math.ceil(length / 64));
    return mem.slice(h.out, h.out + length);
  }
  init(h, SLOT_ONESHOT, flags, key);
  absorb(h, SLOT_ONESHOT, data);
  return squeeze(h, SLOT_ONESHOT, length);
}

export interface Blake3Options {
  /** Output length in bytes (extended output); default 32. */
  length?: number;
}

/** BLAKE3 hash of `data` (a string is hashed as UTF-8). */
export function blake3(data: Blake3Input, options: Blake3Options = {}): Uint8Array {
  return oneShot(0, null, toBytes(data, "input"), checkLength(options.length));
}

/** BLAKE3 hash as lowercase hex. */
export function blake3Hex(data: Blake3Input, options: Blake3Options = {}): string {
  return bytesToHex(blake3(data, options));
}

/** Keyed BLAKE3 (a MAC/PRF) with a 32-byte key. */
export function blake3Keyed(key: Uint8Array, data: Blake3Input, options: Blake3Options = {}): Uint8Array {
  return oneShot(FLAG_KEYED_HASH, checkKey(key), toBytes(data, "input"), checkLength(options.length));
}

function contextKey(context: string): Uint8Array {
  if (typeof context !== "string") throw new StrataError("BAD_REQUEST", "blake3: derive-key context must be a string");
  return oneShot(FLAG_DERIVE_KEY_CONTEXT, null, utf8.encode(context), BLAKE3_KEY_LEN);
}

/** BLAKE3 derive-key: a key for `context` (a hard-coded, application-unique string) from `material`. */
export function blake3DeriveKey(context: string, material: Blake3Input, options: Blake3Options = {}): Uint8Array {
  const length = checkLength(options.length);
  const key = contextKey(context);
  return oneShot(FLAG_DERIVE_KEY_MATERIAL, key, toBytes(material, "key material"), length);
}

/**
 * Streaming BLAKE3. `update` takes input in any split; `digest` may be called at any time
 * (it does not end the stream) and returns any length of extended output.
 */
export class Blake3Hasher {
  /** Holds the kernel slot state while another hasher occupies the slot. */
  readonly #tenant: SlotTenant = { saved: null };
  readonly #h: KernelHandle;

  private constructor(flags: number, key: Uint8Array | null) {
    this.#h = blake3Kernel();
    occupy(this.#h, SLOT_STREAM, this.#tenant);
    init(this.#h, SLOT_STREAM, flags, key);
  }

  /** A hasher for the default (unkeyed) mode. */
  static create(): Blake3Hasher {
    return new Blake3Hasher(0, null);
  }

  /** A hasher for keyed mode. */
  static keyed(key: Uint8Array): Blake3Hasher {
    return new Blake3Hasher(FLAG_KEYED_HASH, checkKey(key));
  }

  /** A hasher for derive-key mode: feed it the key material. */
  static deriveKey(context: string): Blake3Hasher {
    return new Blake3Hasher(FLAG_DERIVE_KEY_MATERIAL, contextKey(context));
  }

  update(data: Blake3Input): this {
    const bytes = toBytes(data, "input");
    occupy(this.#h, SLOT_STREAM, this.#tenant);
    absorb(this.#h, SLOT_STREAM, bytes);
    return this;
  }

  /**
   * Absorbs bytes written straight into the kernel's input buffer, saving a copy for file
   * readers: `read` gets a view of the buffer (valid only during the call), fills a prefix
   * of it and returns how many bytes it wrote. Returns that count (0 at end of input).
   * `read` must not use other BLAKE3 hashers or chunkers: they share the buffer.
   */
  updateFrom(read: (into: Uint8Array) => number): number {
    const h = this.#h;
    occupy(h, SLOT_STREAM, this.#tenant);
    const n = read(h.bytes().subarray(h.input, h.input + h.inputSize));
    if (!Number.isSafeInteger(n) || n < 0 || n > h.inputSize) {
      throw new StrataError("BAD_REQUEST", `blake3: updateFrom reader returned ${String(n)}`);
    }
    // The reader may have run other hashers; take the slot back before absorbing.
    occupy(h, SLOT_STREAM, this.#tenant);
    h.k.blake3Update(SLOT_STREAM, h.input, n);
    return n;
  }

  /** The hash of everything absorbed so far; `length` bytes (default 32). */
  digest(length?: number): Uint8Array {
    const n = checkLength(length);
    occupy(this.#h, SLOT_STREAM, this.#tenant);
    return squeeze(this.#h, SLOT_STREAM, n);
  }

  digestHex(length?: number): string {
    return bytesToHex(this.digest(length));
  }
}
