// HTTP routes of the artefact subsystem (docs/artefact-protocol.md). Routes decode, call a
// service and encode; HTTP ranges and conditional requests are handled here as transport matters.
import { Hono, type Context } from "hono";
import { CHUNKS_MEDIA_TYPE } from "../../core/artefacts/chunk-frames.ts";
import type { ErrorCode } from "../../core/errors.ts";
import { BoundedMsgpackDecoder } from "../../core/log/msgpack-bounds.ts";
import { hexToBytes } from "../../core/util/hex.ts";
import type { GcSummary } from "../artefacts/artefact-gc.ts";
import type { ArtefactService } from "../artefacts/artefact-service.ts";
import type { ManifestInfo } from "../artefacts/manifest-service.ts";
import { checkManifestId } from "../artefacts/manifest-service.ts";
import type { ArtefactServices } from "../artefacts/artefacts.ts";
import type { HttpConfig } from "../config/gateway-config.ts";
import { limitBody } from "./body-limit.ts";
import { requireAdmin, requireScope, type AuthEnv } from "./auth.ts";
import { errorResponse } from "./errors.ts";
import { answerForm, chunkBatchSchema, hashListSchema, toChunkUploads } from "./artefact-wire.ts";
import { notModified, parseRange, rangeAllowed } from "./http-range.ts";
import { encodeMsgpack, MSGPACK, readBodyBytes, respond, respondEncoded } from "./negotiate.ts";
import { msgpackBody, validBody } from "./validate.ts";

export interface MissingChunksBody {
  error: { code: ErrorCode; message: string; missing: string[]; missing_count: number };
}

function artefactHeaders(info: ManifestInfo): Record<string, string> {
  return {
    etag: `"${info.id}"`,
    "accept-ranges": "bytes",
    "cache-control": "public, max-age=31536000, immutable",
  };
}

async function serveArtefact(c: Context, artefacts: ArtefactService): Promise<Response> {
  const id = checkManifestId(c.req.param("id") ?? "");
  const info = await artefacts.info(id);
  const headers = artefactHeaders(info);
  if (notModified(c.req.header("if-none-match"), headers.etag!)) return new Response(null, { status: 304, headers });
  const range = rangeAllowed(c.req.header("if-range"), headers.etag!) ? parseRange(c.req.header("range"), info.size) : null;
  if (range === "unsatisfiable") {
    const res = errorResponse(c, "OFFSET_OUT_OF_RANGE", `range not satisfiable for ${info.size} bytes`, 416);
    res.headers.set("content-range", `bytes */${info.size}`);
    return res;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? info.size;
  const out: Record<string, string> = { ...headers, "content-type": info.mediaType, "content-length": String(end - start) };
  if (range) out["content-range"] = `bytes ${start}-${end - 1}/${info.size}`;
  const status = range ? 206 : 200;
  if (c.req.method === "HEAD") return new Response(null, { status, headers: out });
  const { stream } = await artefacts.read(id, start, end);
  if (end - start > artefacts.limits.maxBufferedBodyBytes) return new Response(stream, { status, headers: out });
  return new Response(await new Response(stream).arrayBuffer(), { status, headers: out });
}

export function artefactRoutes(services: ArtefactServices, http: HttpConfig) {
  const { artefacts, manifests, gc } = services;
  const l = artefacts.limits;
  const hashDecoder = new BoundedMsgpackDecoder(http.decoders.hashes);
  const chunkDecoder = new BoundedMsgpackDecoder(http.decoders.chunks);
  // Chunks and manifests name no stream: uploading (and asking what is missing) needs publish on
  // some stream, reading needs consume on some stream (docs/auth.md: the deduplication oracle).
  const publisher = requireScope(["publish"]);
  const consumer = requireScope(["consume"]);
  return new Hono<AuthEnv>()
    .use("/chunks/missing", publisher)
    .use("/chunks", publisher)
    .use("/chunks/get", consumer)
    .use("/manifests/:id", requireScope((method) => (method === "PUT" ? ["publish"] : ["consume"])))
    .use("/artefacts/:id", consumer)
    .use("/admin/gc", requireAdmin)
    .post("/chunks/missing", limitBody(l.maxHashRequestBytes), validBody(hashListSchema, hashDecoder), async (c) => {
      const { body } = c.req.valid("json");
      const missing = await artefacts.missing(body.hashes);
      if (answerForm(c) === "json") return respond(c, { missing });
      // MessagePack carries the same hashes as bin32.
      return respondEncoded<{ missing: string[] }>(c, encodeMsgpack({ missing: missing.map(hexToBytes) }), "msgpack");
    })
    .put("/chunks", limitBody(l.maxChunkRequestBytes), msgpackBody(chunkBatchSchema, chunkDecoder), async (c) => {
      const { body } = c.req.valid("json");
      const result = await artefacts.putChunks(toChunkUploads(body, l.maxChunksPerRequest));
      return respond(c, { stored: result.stored, existing: result.existing });
    })
    .post("/chunks/get", limitBody(l.maxHashRequestBytes), validBody(hashListSchema, hashDecoder), async (c) => {
      const stream = await artefacts.getChunks(c.req.valid("json").body.hashes);
      return new Response(stream, { status: 200, headers: { "content-type": CHUNKS_MEDIA_TYPE } });
    })
    // A manifest's id is the BLAKE3 of its exact bytes: the body is taken as it is, and the
    // manifest service validates its contents.
    .put("/manifests/:id", limitBody(l.maxManifestBytes), async (c) => {
      const result = await manifests.put(c.req.param("id"), await readBodyBytes(c));
      if (result.outcome === "missing") {
        const body: MissingChunksBody = {
          error: { code: "MISSING_CHUNKS", message: `${result.missingCount} chunks of the manifest are not stored`, missing: result.missing, missing_count: result.missingCount },
        };
        return c.json(body, 409);
      }
      return c.json(result.info, result.outcome === "created" ? 201 : 200);
    })
    .get("/manifests/:id", async (c) => {
      const loaded = await manifests.load(c.req.param("id"));
      return c.body(loaded.bytes as Uint8Array<ArrayBuffer>, 200, { "content-type": MSGPACK, etag: `"${loaded.id}"` });
    })
    .get("/artefacts/:id", (c) => serveArtefact(c, artefacts))
    .post("/admin/gc", async (c) => {
      const summary: GcSummary = await gc.run();
      return c.json(summary);
    });
}
