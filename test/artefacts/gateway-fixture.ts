// Helpers for the gateway-side artefact tests: deterministic data, chunking, and the upload
// steps of the protocol (missing → put chunks → put manifest) spoken over real HTTP.
import { encode } from "@msgpack/msgpack";
import { bytesToHex } from "../../core/hashing/blake3.ts";
import { chunk, type Chunk } from "../../core/chunking/chunking.ts";
import { encodeManifest, manifestId, type Manifest, type ManifestTensor } from "../../core/artefacts/manifest.ts";

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
export function randomBytes(length: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export interface ChunkedFile {
  readonly bytes: Uint8Array;
  readonly chunks: Chunk[];
  readonly manifest: Manifest;
  readonly manifestBytes: Uint8Array;
  readonly id: string;
}

/** Small chunks (4 KiB average) keep test files small while crossing many chunk boundaries. */
export const TEST_CHUNKING = { minSize: 1024, avgSize: 4096, maxSize: 16384 } as const;

export function chunkFile(bytes: Uint8Array, mediaType = "application/octet-stream", tensors?: Record<string, ManifestTensor>): ChunkedFile {
  const chunks = chunk(bytes, TEST_CHUNKING);
  const manifest: Manifest = { v: 1, size: bytes.length, mediaType, chunks: chunks.map((c) => ({ hash: c.hash, length: c.length })), ...(tensors ? { tensors } : {}) };
  const manifestBytes = encodeManifest(manifest);
  return { bytes, chunks, manifest, manifestBytes, id: manifestId(manifestBytes) };
}

export function chunkData(file: ChunkedFile, c: Chunk): Uint8Array {
  return file.bytes.subarray(c.offset, c.offset + c.length);
}

export async function postHashes(url: string, hexes: readonly string[]): Promise<Response> {
  return fetch(`${url}/v1/chunks/missing`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ hashes: hexes }) });
}

export async function missing(url: string, hexes: readonly string[]): Promise<string[]> {
  const res = await postHashes(url, hexes);
  if (res.status !== 200) throw new Error(`missing: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { missing: string[] }).missing;
}

export function putChunksRaw(url: string, entries: readonly (readonly [Uint8Array, Uint8Array])[]): Promise<Response> {
  return fetch(`${url}/v1/chunks`, { method: "PUT", headers: { "content-type": "application/msgpack" }, body: encode({ chunks: entries }) });
}

/** Uploads a whole file the way a client does: only missing chunks, in batches, then the manifest. */
export async function upload(url: string, file: ChunkedFile, batch = 64): Promise<{ uploaded: number }> {
  const hexes = file.chunks.map((c) => bytesToHex(c.hash));
  const want = new Set(await missing(url, hexes));
  const todo = file.chunks.filter((c) => want.has(bytesToHex(c.hash)));
  for (let i = 0; i < todo.length; i += batch) {
    const res = await putChunksRaw(url, todo.slice(i, i + batch).map((c) => [c.hash, chunkData(file, c)] as const));
    if (res.status !== 200) throw new Error(`put chunks: ${res.status} ${await res.text()}`);
  }
  const res = await putManifest(url, file.id, file.manifestBytes);
  if (res.status !== 201 && res.status !== 200) throw new Error(`put manifest: ${res.status} ${await res.text()}`);
  return { uploaded: todo.length };
}

export function putManifest(url: string, id: string, bytes: Uint8Array): Promise<Response> {
  return fetch(`${url}/v1/manifests/${id}`, { method: "PUT", headers: { "content-type": "application/msgpack" }, body: bytes as Uint8Array<ArrayBuffer> });
}

export async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

export function metricValue(text: string, name: string, labels = ""): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(" ")[1]) : 0;
}
