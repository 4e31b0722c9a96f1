// Wire forms of the artefact routes: hash lists in JSON (hex) or MessagePack (bin32), the
// MessagePack chunk batch of PUT /chunks. Decoding only; bad shapes are BAD_REQUEST.
import { Decoder } from "@msgpack/msgpack";
import type { Context } from "hono";
import { bytesToHex, hexToBytes } from "../../core/util/hex.ts";
import { StrataError } from "../../core/errors.ts";
import type { ChunkUpload } from "../artefacts/chunk-store.ts";
import type { ArtefactLimits } from "../artefacts/artefact-limits.ts";
import { requestForm, wantsMsgpack } from "./negotiate.ts";

export type HashForm = "json" | "msgpack";

/** The form of the answer: MessagePack when the request was, or when Accept asks for it. */
export function answerForm(c: Context): HashForm {
  return requestForm(c) === "msgpack" || wantsMsgpack(c) ? "msgpack" : "json";
}

async function bodyBytes(c: Context): Promise<Uint8Array> {
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  if (bytes.length === 0) throw new StrataError("BAD_REQUEST", "request body is empty");
  return bytes;
}

function decodeMsgpack(bytes: Uint8Array, decoder: Decoder): unknown {
  try {
    return decoder.decode(bytes);
  } catch (e) {
    throw new StrataError("BAD_REQUEST", `malformed MessagePack body: ${(e as Error).message}`);
  }
}

/** `{hashes: [...]}` as hex strings, whatever the request form. */
export async function readHashes(c: Context, limits: ArtefactLimits): Promise<string[]> {
  const form = requestForm(c);
  const bytes = await bodyBytes(c);
  let value: unknown;
  if (form === "msgpack") {
    // The array bound only guards the decoder; the explicit count check below answers 413.
    const maxArrayLength = Math.ceil(limits.maxHashRequestBytes / 34);
    value = decodeMsgpack(bytes, new Decoder({ maxBinLength: 32, maxStrLength: 64, maxArrayLength, maxMapLength: 4, maxExtLength: 0 }));
  } else {
    try {
      value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch (e) {
      throw new StrataError("BAD_REQUEST", `malformed JSON body: ${(e as Error).message}`);
    }
  }
  if (typeof value !== "object" || value === null || !Array.isArray((value as { hashes?: unknown }).hashes)) {
    throw new StrataError("BAD_REQUEST", 'body must be {"hashes": [...]}');
  }
  const hashes = (value as { hashes: unknown[] }).hashes;
  if (hashes.length > limits.maxHashesPerRequest) throw new StrataError("BATCH_TOO_LARGE", `${hashes.length} hashes; the limit is ${limits.maxHashesPerRequest} per request`);
  return hashes.map((h, i) => {
    if (form === "msgpack") {
      if (!(h instanceof Uint8Array) || h.length !== 32) throw new StrataError("BAD_REQUEST", `hashes[${i}] must be 32 bytes (bin)`);
      return bytesToHex(h);
    }
    if (typeof h !== "string" || !/^[0-9a-f]{64}$/.test(h)) throw new StrataError("BAD_REQUEST", `hashes[${i}] must be 64 lowercase hex characters`);
    return h;
  });
}

/** A hash list in the answer's form: hex strings in JSON, bin32 in MessagePack. */
export function hashesOut(hexes: readonly string[], form: HashForm): string[] | Uint8Array[] {
  return form === "msgpack" ? hexes.map((h) => hexToBytes(h)) : [...hexes];
}

/** The MessagePack body of PUT /chunks: `{chunks: [[bin32 hash, bin data], ...]}`. */
export async function readChunkBatch(c: Context, limits: ArtefactLimits): Promise<ChunkUpload[]> {
  if (requestForm(c) !== "msgpack") throw new StrataError("UNSUPPORTED_MEDIA_TYPE", "PUT /v1/chunks takes application/msgpack");
  const bytes = await bodyBytes(c);
  const value = decodeMsgpack(bytes, new Decoder({ maxBinLength: limits.maxChunkRequestBytes, maxStrLength: 64, maxMapLength: 4, maxExtLength: 0 }));
  const chunks = (value as { chunks?: unknown } | null)?.chunks;
  if (typeof value !== "object" || value === null || !Array.isArray(chunks)) throw new StrataError("BAD_REQUEST", "body must be {chunks: [[hash, data], ...]}");
  if (chunks.length > limits.maxChunksPerRequest) throw new StrataError("BATCH_TOO_LARGE", `${chunks.length} chunks; the limit is ${limits.maxChunksPerRequest} per request`);
  return chunks.map((entry, i) => {
    if (!Array.isArray(entry) || entry.length !== 2 || !(entry[0] instanceof Uint8Array) || !(entry[1] instanceof Uint8Array)) {
      throw new StrataError("BAD_REQUEST", `chunks[${i}] must be [bin32 hash, bin data]`);
    }
    return { hash: entry[0], data: entry[1] };
  });
}

export async function readManifestBody(c: Context): Promise<Uint8Array> {
  return bodyBytes(c);
}
