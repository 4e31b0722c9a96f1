// Frame types of the QUIC protocol and the checks both ends apply to their fields
// (docs/quic-protocol.md). Decoding only; what a request means is the services' business.
import { StrataError } from "../errors.ts";
import type { Frame } from "./frames.ts";

export const FRAME = {
  hello: "hello",
  helloOk: "hello-ok",
  publish: "publish",
  ack: "ack",
  fetch: "fetch",
  records: "records",
  commit: "commit",
  committed: "committed",
  streamInfo: "stream-info",
  streamCreate: "stream-create",
  stream: "stream",
  manifestGet: "manifest-get",
  manifest: "manifest",
  chunksMissing: "chunks-missing",
  missing: "missing",
  chunksPut: "chunks-put",
  stored: "stored",
  chunksGet: "chunks-get",
  chunks: "chunks",
  error: "error",
} as const;

/** What the server grants in hello-ok. */
export interface SessionLimits {
  /** Largest frame payload the server accepts. */
  readonly maxFrameBytes: number;
  /** Requests a client may have outstanding on the control stream. */
  readonly maxInFlight: number;
  /** Bulk streams a client may have open at once. */
  readonly maxBulkStreams: number;
  /** Largest chunk, and most chunks in one chunks-put frame / hashes in one request. */
  readonly maxChunkBytes: number;
  readonly maxChunksPerFrame: number;
  readonly maxHashesPerRequest: number;
}

export interface HelloOk extends SessionLimits {
  readonly version: number;
}

export function helloOkFrame(version: number, limits: SessionLimits): Frame {
  return {
    t: FRAME.helloOk,
    version,
    max_frame_bytes: limits.maxFrameBytes,
    max_in_flight: limits.maxInFlight,
    max_bulk_streams: limits.maxBulkStreams,
    max_chunk_bytes: limits.maxChunkBytes,
    max_chunks_per_frame: limits.maxChunksPerFrame,
    max_hashes_per_request: limits.maxHashesPerRequest,
  };
}

export function parseHelloOk(frame: Frame): HelloOk {
  if (frame.t !== FRAME.helloOk) throw new StrataError("BAD_REQUEST", `expected hello-ok, got '${frame.t}'`);
  return {
    version: uint(frame.version, "version"),
    maxFrameBytes: uint(frame.max_frame_bytes, "max_frame_bytes", 1),
    maxInFlight: uint(frame.max_in_flight, "max_in_flight", 1),
    maxBulkStreams: uint(frame.max_bulk_streams, "max_bulk_streams", 1),
    maxChunkBytes: uint(frame.max_chunk_bytes, "max_chunk_bytes", 1),
    maxChunksPerFrame: uint(frame.max_chunks_per_frame, "max_chunks_per_frame", 1),
    maxHashesPerRequest: uint(frame.max_hashes_per_request, "max_hashes_per_request", 1),
  };
}

/** The highest version both sides speak, or undefined. */
export function chooseVersion(offered: unknown, supported: readonly number[]): number | undefined {
  if (!Array.isArray(offered)) throw new StrataError("BAD_REQUEST", "hello.versions must be an array of integers");
  if (offered.length > 64) throw new StrataError("BAD_REQUEST", "hello.versions lists more than 64 versions");
  const common = offered.filter((v): v is number => Number.isInteger(v) && supported.includes(v as number));
  return common.length === 0 ? undefined : Math.max(...common);
}

export function uint(v: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) throw new StrataError("BAD_REQUEST", `${name} must be an integer in [${min}, ${max}]`);
  return v as number;
}

export function optionalUint(v: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  return v === undefined || v === null ? undefined : uint(v, name, min, max);
}

export function str(v: unknown, name: string, maxLength = 1024): string {
  if (typeof v !== "string" || v.length > maxLength) throw new StrataError("BAD_REQUEST", `${name} must be a string of at most ${maxLength} characters`);
  return v;
}

/** Request ids are u32, chosen by the client, unique among its outstanding requests. */
export function requestId(frame: Frame): number {
  return uint(frame.id, "id", 0, 0xffffffff);
}

/** A list of 32-byte hashes (MessagePack bin). */
export function hashList(v: unknown, name: string, max: number): Uint8Array[] {
  if (!Array.isArray(v)) throw new StrataError("BAD_REQUEST", `${name} must be an array of 32-byte bins`);
  if (v.length > max) throw new StrataError("BATCH_TOO_LARGE", `${v.length} hashes; the limit is ${max} per request`);
  return v.map((h, i) => {
    if (!(h instanceof Uint8Array) || h.length !== 32) throw new StrataError("BAD_REQUEST", `${name}[${i}] must be 32 bytes (bin)`);
    return h;
  });
}

/** The error frame; `id` is absent when the failure is not tied to one request. */
export function errorFrame(code: string, message: string, id?: number, extra: Record<string, unknown> = {}): Frame {
  return { t: FRAME.error, ...(id === undefined ? {} : { id }), code, message, ...extra };
}
