// safetensors reader and writer, zero-copy, validated like the reference implementation
// (huggingface/safetensors): 8-byte little-endian header length, a JSON object header that
// starts with '{', tensors laid out contiguously from offset 0 with no gap and no overlap,
// and nothing after the last tensor.
import { StrataError } from "../errors.ts";
import {
  assertDtype,
  bytesOf,
  DTYPE_SIZE,
  type Dtype,
  type DtypeArrays,
  elementCount,
  typedView,
} from "./tensor-types.ts";

/** The reference's limit on the header length (100 MB). */
export const DEFAULT_MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsOptions {
  /** Largest accepted JSON header, in bytes. Default 100 MB like the reference. */
  maxHeaderBytes?: number;
}

export interface TensorEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Offsets relative to the start of the data section (after the header). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Length of the JSON header (the u64 at the start of the file). */
  headerLength: number;
  /** Absolute offset of the data section: 8 + headerLength. */
  dataStart: number;
  /** Length of the data section: the end of the last tensor. */
  dataLength: number;
  /** `__metadata__`, string to string; empty when absent. */
  metadata: Record<string, string>;
  /** Tensors in file order (ascending offsets). */
  tensors: TensorEntry[];
}

export interface SafetensorsTensor extends TensorEntry {
  /** The tensor's bytes: a subarray of the input, never a copy. */
  bytes: Uint8Array;
  /** A typed view; zero-copy when aligned (always, for files this writer made), else a copy. */
  array<D extends Dtype = Dtype>(): DtypeArrays[D];
}

export interface SafetensorsFile extends SafetensorsHeader {
  tensors: SafetensorsTensor[];
  /** Tensor by name. */
  get(name: string): SafetensorsTensor | undefined;
}

function invalid(message: string): never {
  throw new StrataError("INVALID_SAFETENSORS", message);
}

/** Reads the u64 header length, refusing anything above the limit. */
function readHeaderLength(bytes: Uint8Array, maxHeaderBytes: number): number {
  if (bytes.byteLength < 8) invalid(`need 8 bytes for the header length, got ${bytes.byteLength}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const n = hi * 2 ** 32 + lo; // may be inexact above 2^53, but then it exceeds any limit anyway
  if (n > maxHeaderBytes) invalid(`header length ${n} exceeds limit ${maxHeaderBytes}`);
  return n;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function nonNegInt(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    invalid(`${what} must be a non-negative integer, got ${JSON.stringify(v) ?? String(v)}`);
  }
  return v;
}

function parseEntry(name: string, raw: unknown): TensorEntry {
  if (!isObject(raw)) invalid(`tensor ${JSON.stringify(name)}: entry is not an object`);
  if (typeof raw.dtype !== "string") invalid(`tensor ${JSON.stringify(name)}: dtype is not a string`);
  const dtype = assertDtype(raw.dtype);
  if (!Array.isArray(raw.shape)) invalid(`tensor ${JSON.stringify(name)}: shape is not an array`);
  const shape = raw.shape.map((d: unknown) => nonNegInt(d, `tensor ${JSON.stringify(name)} dimension`));
  const offsets: unknown = raw.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    invalid(`tensor ${JSON.stringify(name)}: data_offsets must be [begin, end]`);
  }
  const begin = nonNegInt(offsets[0], `tensor ${JSON.stringify(name)} begin`);
  const end = nonNegInt(offsets[1], `tensor ${JSON.stringify(name)} end`);
  if (end < begin) invalid(`tensor ${JSON.stringify(name)}: end ${end} < begin ${begin}`);
  let count: number;
  try {
    count = elementCount(shape);
  } catch {
    invalid(`tensor ${JSON.stringify(name)}: element count overflows`);
  }
  const nbytes = count * DTYPE_SIZE[dtype];
  if (nbytes !== end - begin) {
    invalid(`tensor ${JSON.stringify(name)}: shape [${shape}] of ${dtype} is ${nbytes} bytes, offsets span ${end - begin}`);
  }
  return { name, dtype, shape, begin, end };
}

/**
 * Parses and validates the header. Needs only the first `8 + headerLength` bytes of the file
 * (so a chunker can call it on a prefix); does not check the total file length.
 */
export function parseSafetensorsHeader(bytes: Uint8Array, options: SafetensorsOptions = {}): SafetensorsHeader {
  const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const headerLength = readHeaderLength(bytes, maxHeaderBytes);
  const dataStart = 8 + headerLength;
  if (bytes.byteLength < dataStart) {
    invalid(`truncated: header needs ${dataStart} bytes, have ${bytes.byteLength}`);
  }
  const headerBytes = bytes.subarray(8, dataStart);
  if (headerBytes[0] !== 0x7b /* { */) invalid("header does not start with '{'");
  let text: string;
  let json: unknown;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    invalid("header is not valid UTF-8");
  }
  try {
    json = JSON.parse(text);
  } catch (e) {
    invalid(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(json)) invalid("header is not a JSON object");

  let metadata: Record<string, string> = {};
  const tensors: TensorEntry[] = [];
  for (const [name, raw] of Object.entries(json)) {
    if (name === "__metadata__") {
      if (!isObject(raw)) invalid("__metadata__ is not an object");
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== "string") invalid(`__metadata__.${k} is not a string`);
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    tensors.push(parseEntry(name, raw));
  }

  // Contiguous from 0: sorting by offsets, each tensor must start where the previous ended.
  // This rejects both overlaps and gaps (zero-size tensors may sit anywhere in the run).
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const t of tensors) {
    if (t.begin !== cursor) {
      invalid(`tensor ${JSON.stringify(t.name)} starts at ${t.begin}, expected ${cursor} (${t.begin < cursor ? "overlap" : "gap"})`);
    }
    cursor = t.end;
  }
  return { headerLength, dataStart, dataLength: cursor, metadata, tensors };
}

/**
 * Reads a whole safetensors file without copying: each tensor's `bytes` is a subarray of
 * `bytes`. The file must end exactly where the last tensor ends.
 */
export function readSafetensors(bytes: Uint8Array, options: SafetensorsOptions = {}): SafetensorsFile {
  const header = parseSafetensorsHeader(bytes, options);
  const expected = header.dataStart + header.dataLength;
  if (bytes.byteLength !== expected) {
    invalid(`file is ${bytes.byteLength} bytes, header describes ${expected}`);
  }
  const tensors: SafetensorsTensor[] = header.tensors.map((t) => {
    const data = bytes.subarray(header.dataStart + t.begin, header.dataStart + t.end);
    return {
      ...t,
      bytes: data,
      array<D extends Dtype = Dtype>(): DtypeArrays[D] {
        return typedView(t.dtype, data) as DtypeArrays[D];
      },
    };
  });
  const byName = new Map(tensors.map((t) => [t.name, t]));
  return { ...header, tensors, get: (name) => byName.get(name) };
}

export interface TensorInput {
  dtype: Dtype;
  shape: readonly number[];
  /** Little-endian element bytes: any typed array or DataView over them. */
  data: ArrayBufferView;
}

/**
 * Serialises tensors. Like the reference, tensors are ordered by element size (largest first)
 * then name, and the header is padded with spaces to a multiple of 8, so every tensor starts
 * aligned to its element size and reads back as a zero-copy typed view.
 */
export function writeSafetensors(
  tensors: Record<string, TensorInput> | Iterable<[string, TensorInput]>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = Symbol.iterator in tensors ? [...tensors] : Object.entries(tensors);
  const seen = new Set<string>();
  const items = entries.map(([name, t]) => {
    if (name === "__metadata__") throw new StrataError("BAD_REQUEST", "__metadata__ is not a tensor name");
    if (seen.has(name)) throw new StrataError("BAD_REQUEST", `duplicate tensor name ${JSON.stringify(name)}`);
    seen.add(name);
    const dtype = assertDtype(t.dtype);
    const shape = [...t.shape];
    const nbytes = elementCount(shape) * DTYPE_SIZE[dtype];
    if (!ArrayBuffer.isView(t.data)) throw new StrataError("BAD_REQUEST", `tensor ${JSON.stringify(name)}: data is not a typed array`);
    const data = bytesOf(t.data);
    if (data.byteLength !== nbytes) {
      throw new StrataError("BAD_REQUEST", `tensor ${JSON.stringify(name)}: shape [${shape}] of ${dtype} needs ${nbytes} bytes, data has ${data.byteLength}`);
    }
    return { name, dtype, shape, data };
  });
  items.sort((a, b) => DTYPE_SIZE[b.dtype] - DTYPE_SIZE[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  // Built by hand rather than through an object so a tensor named "__proto__" stays a key.
  const parts: string[] = [];
  if (metadata !== undefined) {
    const meta: string[] = [];
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new StrataError("BAD_REQUEST", `metadata ${k} is not a string`);
      meta.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`"__metadata__":{${meta.join(",")}}`);
  }
  let offset = 0;
  for (const t of items) {
    const info = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify(info)}`);
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLength = json.byteLength + ((8 - (json.byteLength % 8)) % 8);
  const out = new Uint8Array(8 + headerLength + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, headerLength % 2 ** 32, true);
  dv.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + headerLength);
  let pos = 8 + headerLength;
  for (const t of items) {
    out.set(t.data, pos);
    pos += t.data.byteLength;
  }
  return out;
}
