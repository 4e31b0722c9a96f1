// Delta uploads (docs/artefact-protocol.md, "Delta uploads"):
//   GET  /v1/artefacts/{id}/blocks?block_size=N[&algorithm=sha256]   the basis's block digests
//   POST /v1/artefacts?basis=<id>&block_size=N[&media_type=]          a body of copy/literal frames
// A POST /v1/artefacts without `basis` falls through to the raw upload (artefact-upload-routes.ts),
// so this file is mounted before it. Both routes need publish on some stream, as the raw upload:
// the digests are a deduplication oracle of the same kind (docs/auth.md).
import { Hono } from "hono";
import { z } from "zod";
import { invariant, StrataError } from "../../core/errors.ts";
import { parseInput } from "../../core/util/parse-input.ts";
import { bytesToHex } from "../../core/hashing/blake3.ts";
import { ArtefactDelta } from "../artefacts/artefact-delta.ts";
import { ArtefactUpload } from "../artefacts/artefact-upload.ts";
import type { ArtefactServices } from "../artefacts/artefacts.ts";
import { BLOCK_DIGEST_ALGORITHMS, BlockDigestIndex, DIGEST_BYTES } from "../artefacts/block-digests.ts";
import { streamPieces } from "../artefacts/stream-pieces.ts";
import { checkManifestId } from "../artefacts/manifest-service.ts";
import { DEFAULT_UPLOAD_MEDIA_TYPE, type UploadAnswer } from "./artefact-upload-routes.ts";
import { requireScope, type AuthEnv } from "./auth.ts";
import { validParams } from "./validate.ts";

/** The answer of GET /v1/artefacts/{id}/blocks. */
export interface BlockDigestsAnswer {
  readonly basis: string;
  readonly size: number;
  readonly block_size: number;
  readonly algorithm: (typeof BLOCK_DIGEST_ALGORITHMS)[number];
  /** One lowercase hex digest per block, in order. */
  readonly digests: string[];
}

/** The answer of a delta POST /v1/artefacts: the raw upload's, with the body's size. */
export interface DeltaUploadAnswer extends UploadAnswer {
  readonly wire_bytes: number;
}

const blockSize = z.coerce.number().int({ message: "block_size is an integer" });

const blocksQuery = z.object({ block_size: blockSize, algorithm: z.enum(BLOCK_DIGEST_ALGORITHMS).optional() });

const deltaQuery = z.object({
  basis: z.string().regex(/^[0-9a-f]{64}$/, { message: "basis is an artefact id: 64 lowercase hex characters" }),
  block_size: blockSize,
  media_type: z
    .string()
    .max(255, { message: "media_type is at most 255 characters" })
    .regex(/^[\x21-\x7e][\x20-\x7e]*$/, { message: "media_type must be printable ASCII" })
    .optional(),
});

export function artefactDeltaRoutes(services: ArtefactServices) {
  const limits = services.artefacts.limits;
  const digests = new BlockDigestIndex(services.artefacts, limits);
  const delta = new ArtefactDelta(services.artefacts, new ArtefactUpload(services.artefacts, services.manifests, limits), digests);
  const publisher = requireScope(["publish"]);
  return new Hono<AuthEnv>()
    .get("/artefacts/:id/blocks", publisher, validParams("query", blocksQuery), async (c) => {
      const q = c.req.valid("query");
      const d = await digests.digests(checkManifestId(c.req.param("id")), q.block_size, q.algorithm ?? "sha256");
      const hexes: string[] = [];
      for (let at = 0; at < d.digests.length; at += DIGEST_BYTES) hexes.push(bytesToHex(d.digests.subarray(at, at + DIGEST_BYTES)));
      const answer: BlockDigestsAnswer = { basis: d.basis, size: d.size, block_size: d.blockSize, algorithm: d.algorithm, digests: hexes };
      return c.json(answer);
    })
    .post("/artefacts", async (c, next) => {
      // Without a basis this is a raw upload: the next route (artefact-upload-routes.ts) serves it.
      // One handler, so that falling through skips this route's scope check and validation too.
      if (c.req.query("basis") === undefined) return next();
      let answer: DeltaUploadAnswer | undefined;
      await publisher(c, async () => {
        const q = parseInput(deltaQuery, c.req.query(), "query");
        const length = c.req.header("content-length");
        if (length !== undefined && Number.parseInt(length, 10) > limits.maxUploadBytes) {
          c.header("Connection", "close");
          throw new StrataError("PAYLOAD_TOO_LARGE", `request body is larger than ${limits.maxUploadBytes} bytes (artefacts.maxUploadBytes)`);
        }
        const r = await delta.upload({
          basis: q.basis,
          blockSize: q.block_size,
          body: streamPieces(c.req.raw.body),
          mediaType: q.media_type ?? DEFAULT_UPLOAD_MEDIA_TYPE,
          signal: c.req.raw.signal,
        });
        answer = { id: r.id, size: r.size, chunks: r.chunks, new_chunks: r.newChunks, new_bytes: r.newBytes, wire_bytes: r.wireBytes };
      });
      invariant(answer !== undefined, "the delta upload answers once its scope check passed");
      return c.json(answer, 201);
    });
}
