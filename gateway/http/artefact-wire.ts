// Wire forms of the artefact routes: hash lists in JSON (hex) or MessagePack (bin32), the
// MessagePack chunk batch of PUT /chunks. The schemas are the one source of their shapes; count
// limits answer BATCH_TOO_LARGE after them (hash lists: the artefact service).
import type { Context } from "hono";
import { z } from "zod";
import { StrataError } from "../../core/errors.ts";
import type { BodyForm } from "../../core/log/publish-request.ts";
import { bytesToHex } from "../../core/util/hex.ts";
import type { ChunkUpload } from "../artefacts/chunk-store.ts";
import { requestForm, wantsMsgpack } from "./negotiate.ts";

const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: "expected bytes (bin)" });
const bin32 = bytes.refine((b) => b.length === 32, { message: "a hash must be 32 bytes" });
const hexHash = z.string().regex(/^[0-9a-f]{64}$/, { message: "a hash must be 64 lowercase hex characters" });

/** `{"hashes": [...]}`: hex strings in JSON, bin32 in MessagePack; hex strings come out. */
export const hashListSchema = z.object({
  hashes: z.array(z.union([hexHash, bin32.transform((b) => bytesToHex(b))])),
});

/** `{chunks: [[bin32 hash, bin data], ...]}` (MessagePack only). */
export const chunkBatchSchema = z.object({
  chunks: z.array(z.tuple([bin32, bytes])),
});

/** The form of the answer: MessagePack when the request was, or when Accept asks for it. */
export function answerForm(c: Context): BodyForm {
  return requestForm(c) === "msgpack" || wantsMsgpack(c) ? "msgpack" : "json";
}

export function toChunkUploads(batch: z.output<typeof chunkBatchSchema>, max: number): ChunkUpload[] {
  if (batch.chunks.length > max) throw new StrataError("BATCH_TOO_LARGE", `${batch.chunks.length} chunks; the limit is ${max} per request`);
  return batch.chunks.map(([hash, data]) => ({ hash, data }));
}
