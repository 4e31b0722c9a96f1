// General-purpose byte compressors from node:zlib, as numbered codecs a container can record.
// zstd exists in Bun, Deno and Node >= 22.15 (not Node 20); brotli and deflate exist everywhere
// node:zlib does. Decompression is always bounded by the length the container promises.
import * as zlib from "node:zlib";
import { StrataError } from "../errors.ts";

/** node:zlib's zstd functions (Node >= 22.15, Bun, Deno); absent from Node 20 and its types. */
type Done = (error: Error | null, result: Uint8Array) => void;
interface ZstdApi {
  zstdCompressSync(data: Uint8Array, options: { params: Record<number, number> }): Uint8Array;
  zstdDecompressSync(data: Uint8Array, options: { maxOutputLength: number }): Uint8Array;
  zstdCompress(data: Uint8Array, options: { params: Record<number, number> }, done: Done): void;
  zstdDecompress(data: Uint8Array, options: { maxOutputLength: number }, done: Done): void;
}
const zstd: Partial<ZstdApi> = {
  zstdCompressSync: Reflect.get(zlib, "zstdCompressSync"),
  zstdDecompressSync: Reflect.get(zlib, "zstdDecompressSync"),
  zstdCompress: Reflect.get(zlib, "zstdCompress"),
  zstdDecompress: Reflect.get(zlib, "zstdDecompress"),
};

// Parameter ids from zstd.h (stable ABI): the same numbers node:zlib exposes as ZSTD_c_*.
const ZSTD_C_LEVEL = 100;
const ZSTD_C_WINDOW_LOG = 101;
const ZSTD_C_HASH_LOG = 102;
const ZSTD_C_MIN_MATCH = 105;
const ZSTD_C_STRATEGY = 107;
const ZSTD_FAST = 1;

export const CODEC_ID = { raw: 0, zstd: 1, brotli: 2, deflate: 3 } as const;
export type CodecName = keyof typeof CODEC_ID;

const NAMES: readonly CodecName[] = ["raw", "zstd", "brotli", "deflate"];

export function codecName(id: number): CodecName | undefined {
  return NAMES[id];
}

/** Whether this runtime can compress and decompress with `codec`. */
export function codecAvailable(codec: CodecName): boolean {
  switch (codec) {
    case "raw":
      return true;
    case "zstd":
      return typeof zstd.zstdCompressSync === "function" && typeof zstd.zstdDecompressSync === "function";
    case "brotli":
      return typeof zlib.brotliCompressSync === "function";
    case "deflate":
      return typeof zlib.deflateRawSync === "function";
  }
}

/** The best available codec for byte planes: zstd, else deflate. */
export function defaultCodec(): CodecName {
  return codecAvailable("zstd") ? "zstd" : "deflate";
}

export interface CompressOptions {
  /**
   * zstd or brotli level, or deflate level. Unset: parameters tuned for byte planes (zstd level 1,
   * fast strategy, 8-bit hash table, 7-byte minimum match, 128 KiB window; deflate Huffman-only):
   * exponent planes are low-entropy but rarely repeat, so entropy coding does nearly all the
   * work and shallow match finding is both faster and, there, smaller.
   */
  level?: number;
}

function zstdParams(level: number | undefined): Record<number, number> {
  if (level !== undefined) return { [ZSTD_C_LEVEL]: level };
  return {
    [ZSTD_C_LEVEL]: 1,
    [ZSTD_C_STRATEGY]: ZSTD_FAST,
    [ZSTD_C_WINDOW_LOG]: 17,
    [ZSTD_C_HASH_LOG]: 8,
    [ZSTD_C_MIN_MATCH]: 7,
  };
}

function unavailable(codec: CodecName): never {
  throw new StrataError("UNSUPPORTED_MEDIA_TYPE", `codec ${codec} is not available in this runtime`);
}

export function compressBytes(codec: CodecName, data: Uint8Array, options: CompressOptions = {}): Uint8Array {
  if (!codecAvailable(codec)) unavailable(codec);
  switch (codec) {
    case "raw":
      return data;
    case "zstd":
      return zstd.zstdCompressSync!(data, { params: zstdParams(options.level) });
    case "brotli":
      return zlib.brotliCompressSync(data, {
        params: { [zlib.constants.BROTLI_PARAM_QUALITY]: options.level ?? 1, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.byteLength },
      });
    case "deflate":
      return options.level === undefined
        ? zlib.deflateRawSync(data, { level: 1, strategy: zlib.constants.Z_HUFFMAN_ONLY })
        : zlib.deflateRawSync(data, { level: options.level });
  }
}

/**
 * Decompresses exactly `length` bytes; CORRUPT_DATA if the stream is damaged or its output is
 * longer or shorter (the output is capped, so a hostile stream cannot balloon memory).
 */
export function decompressBytes(codec: CodecName, data: Uint8Array, length: number): Uint8Array {
  if (!codecAvailable(codec)) unavailable(codec);
  let out: Uint8Array;
  if (codec === "raw") {
    out = data;
  } else if (length === 0) {
    out = data.byteLength === 0 ? new Uint8Array(0) : decodeOrCorrupt(codec, data, 1);
  } else {
    out = decodeOrCorrupt(codec, data, length);
  }
  if (out.byteLength !== length) {
    throw new StrataError("CORRUPT_DATA", `${codec} stream decodes to ${out.byteLength} bytes, expected ${length}`);
  }
  return out;
}

function decodeOrCorrupt(codec: CodecName, data: Uint8Array, maxOutputLength: number): Uint8Array {
  try {
    switch (codec) {
      case "zstd":
        return zstd.zstdDecompressSync!(data, { maxOutputLength });
      case "brotli":
        return zlib.brotliDecompressSync(data, { maxOutputLength });
      default:
        return zlib.inflateRawSync(data, { maxOutputLength });
    }
  } catch (e) {
    throw new StrataError("CORRUPT_DATA", `${codec} stream is damaged or too long: ${(e as Error).message}`, { cause: e });
  }
}

function promised(run: (done: Done) => void): Promise<Uint8Array> {
  return new Promise((resolve, reject) => run((error, result) => (error ? reject(error) : resolve(result))));
}

/**
 * compressBytes on node:zlib's thread pool, so several planes (and the caller's own work)
 * proceed in parallel. Same output bytes as compressBytes.
 */
export function compressBytesAsync(codec: CodecName, data: Uint8Array, options: CompressOptions = {}): Promise<Uint8Array> {
  if (!codecAvailable(codec)) unavailable(codec);
  switch (codec) {
    case "raw":
      return Promise.resolve(data);
    case "zstd":
      if (typeof zstd.zstdCompress !== "function") return Promise.resolve(compressBytes(codec, data, options));
      return promised((done) => zstd.zstdCompress!(data, { params: zstdParams(options.level) }, done));
    case "brotli":
      return promised((done) =>
        zlib.brotliCompress(
          data,
          { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: options.level ?? 1, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.byteLength } },
          done,
        ),
      );
    case "deflate":
      return promised((done) =>
        zlib.deflateRaw(
          data,
          options.level === undefined ? { level: 1, strategy: zlib.constants.Z_HUFFMAN_ONLY } : { level: options.level },
          done,
        ),
      );
  }
}

/** decompressBytes on node:zlib's thread pool; the same checks and errors. */
export async function decompressBytesAsync(codec: CodecName, data: Uint8Array, length: number): Promise<Uint8Array> {
  if (!codecAvailable(codec)) unavailable(codec);
  if (codec === "raw" || length === 0) return decompressBytes(codec, data, length);
  let out: Uint8Array;
  try {
    const opts = { maxOutputLength: length };
    out = await promised((done) => {
      if (codec === "zstd") {
        if (typeof zstd.zstdDecompress === "function") zstd.zstdDecompress(data, opts, done);
        else done(null, zstd.zstdDecompressSync!(data, opts));
      } else if (codec === "brotli") zlib.brotliDecompress(data, opts, done);
      else zlib.inflateRaw(data, opts, done);
    });
  } catch (e) {
    throw new StrataError("CORRUPT_DATA", `${codec} stream is damaged or too long: ${(e as Error).message}`, { cause: e });
  }
  if (out.byteLength !== length) {
    throw new StrataError("CORRUPT_DATA", `${codec} stream decodes to ${out.byteLength} bytes, expected ${length}`);
  }
  return out;
}
