// HTTP routes of the artefact subsystem (docs/artefact-protocol.md). Routes decode, call a
// service and encode; HTTP ranges and conditional requests are handled here as transport matters.
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { CHUNKS_MEDIA_TYPE } from "../../core/artefacts/chunk-frames.ts";
import type { ErrorCode } from "../../core/errors.ts";
import type { ArtefactGc, GcSummary } from "../artefacts/artefact-gc.ts";
import type { ArtefactService } from "../artefacts/artefact-service.ts";
import type { ManifestInfo, ManifestService } from "../artefacts/manifest-service.ts";
import { checkManifestId } from "../artefacts/manifest-service.ts";
import type { ArtefactServices } from "../artefacts/artefacts.ts";
import { errorResponse } from "./errors.ts";
import { answerForm, hashesOut, readChunkBatch, readHashes, readManifestBody } from "./artefact-wire.ts";
import { notModified, parseRange, rangeAllowed } from "./http-range.ts";
import { MSGPACK, msgpackResponse, wantsMsgpack } from "./negotiate.ts";
import { jsonInput } from "./typed-input.ts";

export interface MissingChunksBody {
  error: { code: ErrorCode; message: string; missing: string[]; missing_count: number };
}

/**
 * A body limit that judges a Content-Length by the header alone, without touching
 * c.req.raw.body first (which makes Bun build a stream per request); chunked bodies are counted
 * by hono's bodyLimit.
 */
function limit(maxSize: number): MiddlewareHandler {
  const tooLarge = (c: Context) => errorResponse(c, "PAYLOAD_TOO_LARGE", `request body is larger than ${maxSize} bytes`, 413);
  const streamed = bodyLimit({ maxSize, onError: tooLarge });
  return async (c, next) => {
    const length = c.req.header("content-length");
    if (length !== undefined && c.req.header("transfer-encoding") === undefined) {
      if (parseInt(length, 10) > maxSize) return tooLarge(c);
      await next();
      return;
    }
    return streamed(c, next);
  };
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

export function artefactRoutes(services: ArtefactServices) {
  const { artefacts, manifests, gc } = services;
  const l = artefacts.limits;
  return new Hono()
    .post("/chunks/missing", limit(l.maxHashRequestBytes), jsonInput<{ hashes: string[] }>(), async (c) => {
      const missing = await artefacts.missing(await readHashes(c, l));
      const form = answerForm(c);
      const body = { missing: hashesOut(missing, form) as string[] };
      return form === "msgpack" ? (msgpackResponse(body) as unknown as ReturnType<typeof c.json<typeof body>>) : c.json(body);
    })
    .put("/chunks", limit(l.maxChunkRequestBytes), async (c) => {
      const result = await artefacts.putChunks(await readChunkBatch(c, l));
      const body = { stored: result.stored, existing: result.existing };
      return wantsMsgpack(c) ? (msgpackResponse(body) as unknown as ReturnType<typeof c.json<typeof body>>) : c.json(body);
    })
    .post("/chunks/get", limit(l.maxHashRequestBytes), jsonInput<{ hashes: string[] }>(), async (c) => {
      const stream = await artefacts.getChunks(await readHashes(c, l));
      return new Response(stream, { status: 200, headers: { "content-type": CHUNKS_MEDIA_TYPE } });
    })
    .put("/manifests/:id", limit(l.maxManifestBytes), async (c) => {
      const result = await manifests.put(c.req.param("id"), await readManifestBody(c));
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
