// A minimal MessagePack writer with explicit key order and the shortest form of every value,
// for canonical encodings (manifests) where a generic encoder's object-key order is not enough.
import { StrataError } from "../errors.ts";

const utf8 = new TextEncoder();

/** Bytes of a non-negative safe integer in its shortest MessagePack form. */
/** A fixstr (ASCII, under 32 bytes) as MessagePack bytes: the map keys of hand-framed answers. */
export function msgpackFixstr(s: string): Uint8Array {
  if (s.length >= 32 || !/^[\x00-\x7f]*$/.test(s)) throw new RangeError(`not a fixstr: ${s}`);
  return Uint8Array.from([0xa0 | s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))]);
}

export function msgpackUintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x1_0000 ? 3 : n < 0x1_0000_0000 ? 5 : 9;
}

/** Writes a non-negative safe integer in its shortest form at `at`; returns the end. */
export function writeMsgpackUint(out: Uint8Array, view: DataView, at: number, n: number): number {
  if (n < 0x80) {
    out[at] = n;
    return at + 1;
  }
  if (n < 0x100) {
    out[at] = 0xcc;
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x1_0000) {
    out[at] = 0xcd;
    view.setUint16(at + 1, n);
    return at + 3;
  }
  if (n < 0x1_0000_0000) {
    out[at] = 0xce;
    view.setUint32(at + 1, n);
    return at + 5;
  }
  out[at] = 0xcf;
  view.setUint32(at + 1, Math.floor(n / 0x1_0000_0000));
  view.setUint32(at + 5, n >>> 0);
  return at + 9;
}

/** Bytes of an array header for `n` items. */
export function msgpackArrayHeaderSize(n: number): number {
  return n < 16 ? 1 : n < 0x1_0000 ? 3 : 5;
}

/** Writes an array header for `n` items at `at`; returns the end. */
export function writeMsgpackArrayHeader(out: Uint8Array, view: DataView, at: number, n: number): number {
  if (n < 16) {
    out[at] = 0x90 | n;
    return at + 1;
  }
  if (n < 0x1_0000) {
    out[at] = 0xdc;
    view.setUint16(at + 1, n);
    return at + 3;
  }
  out[at] = 0xdd;
  view.setUint32(at + 1, n);
  return at + 5;
}

export class MsgpackWriter {
  #buf: Uint8Array;
  #view: DataView;
  #pos = 0;

  constructor(initialBytes = 1024) {
    this.#buf = new Uint8Array(Math.max(16, initialBytes));
    this.#view = new DataView(this.#buf.buffer);
  }

  #reserve(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  #byte(b: number): void {
    this.#reserve(1);
    this.#buf[this.#pos++] = b;
  }

  /** A non-negative safe integer in its shortest form. */
  uint(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new StrataError("BAD_REQUEST", `msgpack: ${n} is not a non-negative safe integer`);
    this.#reserve(9);
    this.#pos = writeMsgpackUint(this.#buf, this.#view, this.#pos, n);
    return this;
  }

  #header(n: number, fix: number, fixMax: number, c8: number | null, c16: number, c32: number): void {
    this.#reserve(5);
    if (n <= fixMax) this.#buf[this.#pos++] = fix | n;
    else if (c8 !== null && n < 0x100) {
      this.#buf[this.#pos++] = c8;
      this.#buf[this.#pos++] = n;
    } else if (n < 0x10000) {
      this.#buf[this.#pos++] = c16;
      this.#view.setUint16(this.#pos, n);
      this.#pos += 2;
    } else {
      this.#buf[this.#pos++] = c32;
      this.#view.setUint32(this.#pos, n);
      this.#pos += 4;
    }
  }

  str(s: string): this {
    const bytes = utf8.encode(s);
    this.#header(bytes.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
    return this.raw(bytes);
  }

  bin(bytes: Uint8Array): this {
    this.#reserve(5);
    if (bytes.length < 0x100) {
      this.#buf[this.#pos++] = 0xc4;
      this.#buf[this.#pos++] = bytes.length;
    } else if (bytes.length < 0x10000) {
      this.#buf[this.#pos++] = 0xc5;
      this.#view.setUint16(this.#pos, bytes.length);
      this.#pos += 2;
    } else {
      this.#buf[this.#pos++] = 0xc6;
      this.#view.setUint32(this.#pos, bytes.length);
      this.#pos += 4;
    }
    return this.raw(bytes);
  }

  array(length: number): this {
    this.#header(length, 0x90, 15, null, 0xdc, 0xdd);
    return this;
  }

  map(entries: number): this {
    this.#header(entries, 0x80, 15, null, 0xde, 0xdf);
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
    return this;
  }

  get length(): number {
    return this.#pos;
  }

  /** The bytes written so far (a copy sized exactly). */
  bytes(): Uint8Array {
    return this.#buf.slice(0, this.#pos);
  }
}
