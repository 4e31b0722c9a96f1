// The gateway's artefact routes as the client uses them (docs/artefact-protocol.md): chunk
// presence, chunk upload and download, manifests. Hashes travel as MessagePack bin32.
import { decode, encode } from "@msgpack/msgpack";
import { blake3 } from "../../core/hashing/blake3.ts";
import { StrataError } from "../../core/errors.ts";
import { bytesToHex, hexToBytes } from "../../core/util/hex.ts";
import { decodeManifest, type Manifest } from "../../core/artefacts/manifest.ts";
import { type ExpectedChunk, readVerifiedFrames } from "./verified-frames.ts";
import type { ChunkHasher } from "./chunk-hasher.ts";
import type { GatewayHttp } from "./gateway-http.ts";
import { HARD_LIMITS } from "./limits.ts";

const MSGPACK = "application/msgpack";
const HEX = /^[0-9a-f]{64}$/;

/** PUT /v1/manifests/{id} answered 409 MISSING_CHUNKS: the gateway lacks these chunks. */
export class MissingChunksError extends StrataError {
  readonly missing: readonly string[];
  readonly missingCount: number;
  constructor(message: string, missing: string[], missingCount: number) {
    super("MISSING_CHUNKS", message);
    this.missing = missing;
    this.missingCount = missingCount;
  }
}

async function decodeBody(response: Response, what: string): Promise<unknown> {
  const bytes = new Uint8Array(await response.arrayBuffer());
  try {
    return (response.headers.get("content-type") ?? "").includes("json") ? JSON.parse(new TextDecoder().decode(bytes)) : decode(bytes);
  } catch (e) {
    throw new StrataError("CORRUPT_DATA", `${what}: malformed answer: ${(e as Error).message}`);
  }
}

function isHash(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && v.length === 32;
}

/** Which of `hashes` the gateway lacks, in request order. */
export async function missingChunks(http: GatewayHttp, hashes: readonly Uint8Array[], signal?: AbortSignal): Promise<Uint8Array[]> {
  const what = "POST /v1/chunks/missing";
  const response = await http.request(
    "/v1/chunks/missing",
    { method: "POST", body: encode({ hashes }), contentType: MSGPACK, accept: MSGPACK, ...(signal ? { signal } : {}) },
    what,
  );
  const body = (await decodeBody(response, what)) as { missing?: unknown };
  if (!Array.isArray(body?.missing)) throw new StrataError("CORRUPT_DATA", `${what}: answer has no missing list`);
  const asked = new Set(hashes.map(bytesToHex));
  const out: Uint8Array[] = [];
  for (const h of body.missing as unknown[]) {
    const hash = typeof h === "string" && HEX.test(h) ? hexToBytes(h) : h;
    if (!isHash(hash) || !asked.has(bytesToHex(hash))) throw new StrataError("CORRUPT_DATA", `${what}: answer lists a hash that was not asked for`);
    out.push(hash);
  }
  return out;
}

/** Uploads chunks (the gateway verifies each; a mismatch rejects the batch with HASH_MISMATCH). */
export async function putChunks(http: GatewayHttp, chunks: readonly (readonly [Uint8Array, Uint8Array])[], signal?: AbortSignal): Promise<void> {
  await http.request(
    "/v1/chunks",
    { method: "PUT", body: encode({ chunks }), contentType: MSGPACK, accept: MSGPACK, ...(signal ? { signal } : {}) },
    "PUT /v1/chunks",
  ).then((r) => r.arrayBuffer());
}

/** Downloads chunks, verifying each (see readChunkFrames); `onChunk` gets them in order. */
export async function getChunks(
  http: GatewayHttp,
  expected: readonly ExpectedChunk[],
  onChunk: (index: number, bytes: Uint8Array) => void | Promise<void>,
  signal?: AbortSignal,
  hasher?: ChunkHasher,
): Promise<void> {
  const response = await http.request(
    "/v1/chunks/get",
    { method: "POST", body: encode({ hashes: expected.map((e) => e.hash) }), contentType: MSGPACK, ...(signal ? { signal } : {}) },
    "POST /v1/chunks/get",
  );
  if (!response.body) throw new StrataError("CORRUPT_DATA", "POST /v1/chunks/get: answer has no body");
  await readVerifiedFrames(response.body, expected, onChunk, hasher);
}

/** Stores a manifest; MissingChunksError when the gateway lacks some of its chunks. */
export async function putManifest(http: GatewayHttp, id: string, bytes: Uint8Array): Promise<void> {
  const what = `PUT /v1/manifests/${id}`;
  const response = await http.request(`/v1/manifests/${id}`, { method: "PUT", body: bytes, contentType: MSGPACK, passStatuses: [409] }, what);
  if (response.ok) {
    await response.arrayBuffer();
    return;
  }
  const text = await response.text();
  let error: { code?: unknown; message?: unknown; missing?: unknown; missing_count?: unknown } | undefined;
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error;
  } catch {
    // not JSON: the generic error below
  }
  if (error?.code === "MISSING_CHUNKS" && Array.isArray(error.missing)) {
    const missing = error.missing.filter((h): h is string => typeof h === "string" && HEX.test(h));
    const count = typeof error.missing_count === "number" ? error.missing_count : missing.length;
    throw new MissingChunksError(`${what}: ${String(error.message ?? "chunks missing")}`, missing, count);
  }
  throw new StrataError("BAD_REQUEST", `${what}: gateway answered HTTP 409: ${typeof error?.message === "string" ? error.message : text.slice(0, 200)}`);
}

/** Fetches a manifest and checks that its bytes hash to `id` and that it is valid. */
export async function getManifest(http: GatewayHttp, id: string): Promise<{ manifest: Manifest; bytes: Uint8Array }> {
  if (!HEX.test(id)) throw new StrataError("BAD_REQUEST", `artefact id must be 64 lowercase hex characters, got ${id}`);
  const what = `GET /v1/manifests/${id}`;
  const response = await http.request(`/v1/manifests/${id}`, { method: "GET", accept: MSGPACK }, what);
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > HARD_LIMITS.maxManifestBytes) throw new StrataError("PAYLOAD_TOO_LARGE", `${what}: manifest is ${declared} bytes; the limit is ${HARD_LIMITS.maxManifestBytes}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length > HARD_LIMITS.maxManifestBytes) throw new StrataError("PAYLOAD_TOO_LARGE", `${what}: manifest is ${bytes.length} bytes; the limit is ${HARD_LIMITS.maxManifestBytes}`);
  if (bytesToHex(blake3(bytes)) !== id) throw new StrataError("HASH_MISMATCH", `${what}: the manifest's bytes do not hash to ${id}`);
  return { manifest: decodeManifest(bytes, { maxChunkBytes: HARD_LIMITS.maxChunkBytes, maxManifestBytes: HARD_LIMITS.maxManifestBytes }), bytes };
}
