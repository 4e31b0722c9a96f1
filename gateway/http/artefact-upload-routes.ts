// POST /v1/artefacts: a raw body made an artefact by the gateway (docs/artefact-protocol.md,
// "Uploading raw bytes"), for clients without BLAKE3 and FastCDC (the Python client). The body
// is streamed through the chunker, never held whole, so it is exempt from the in-flight byte cap
// (isStreamedUpload); artefacts.maxConcurrentUploads bounds the uploads served at once instead.
import { Hono, type Context } from "hono";
import { z } from "zod";
import { StrataError } from "../../core/errors.ts";
import { ArtefactUpload } from "../artefacts/artefact-upload.ts";
import type { ArtefactServices } from "../artefacts/artefacts.ts";
import { requireScope, type AuthEnv } from "./auth.ts";
import { validParams } from "./validate.ts";
import { streamPieces } from "../artefacts/stream-pieces.ts";

/** The answer of POST /v1/artefacts. */
export interface UploadAnswer {
  readonly id: string;
  readonly size: number;
  readonly chunks: number;
  readonly new_chunks: number;
  readonly new_bytes: number;
}

export const DEFAULT_UPLOAD_MEDIA_TYPE = "application/octet-stream";

const uploadQuery = z.object({
  media_type: z
    .string()
    .max(255, { message: "media_type is at most 255 characters" })
    .regex(/^[\x21-\x7e][\x20-\x7e]*$/, { message: "media_type must be printable ASCII" })
    .optional(),
});

/** The one route whose body is streamed rather than held: the in-flight byte cap skips it. */
export function isStreamedUpload(c: Context): boolean {
  return c.req.method === "POST" && c.req.path === "/v1/artefacts";
}

export function artefactUploadRoutes(services: ArtefactServices) {
  const uploads = new ArtefactUpload(services.artefacts, services.manifests, services.artefacts.limits);
  const maxBytes = uploads.limits.maxUploadBytes;
  // Like PUT /v1/manifests: an artefact names no stream, so uploading needs publish on some stream.
  return new Hono<AuthEnv>().use("/artefacts", requireScope(["publish"])).post("/artefacts", validParams("query", uploadQuery), async (c) => {
    const length = c.req.header("content-length");
    if (length !== undefined && Number.parseInt(length, 10) > maxBytes) {
      // The body is not read: closing the connection spares the server from draining it.
      c.header("Connection", "close");
      throw new StrataError("PAYLOAD_TOO_LARGE", `request body is larger than ${maxBytes} bytes (artefacts.maxUploadBytes)`);
    }
    const result = await uploads.upload({
      body: streamPieces(c.req.raw.body), // a client that goes away ends it with an error
      mediaType: c.req.valid("query").media_type ?? DEFAULT_UPLOAD_MEDIA_TYPE,
      signal: c.req.raw.signal,
    });
    const answer: UploadAnswer = { id: result.id, size: result.size, chunks: result.chunks, new_chunks: result.newChunks, new_bytes: result.newBytes };
    return c.json(answer, 201);
  });
}
