// Dataset routes (docs/datasets.md), and the raw committed segments of a partition for readers
// that decode batches themselves (consume on the stream). Scopes (docs/auth.md): creating a version, listing,
// describing and reading samples need consume on the dataset's stream (a listing shows only the
// datasets whose stream the token may consume); releasing a version needs consume on its stream
// too: a version pins data its holders may read anyway, and whoever could create it may drop it.
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { z } from "zod";
import type { BoundedMsgpackDecoder } from "../../core/log/msgpack-bounds.ts";
import { authorize, permits } from "../auth/principal.ts";
import type { DatasetService } from "../datasets/dataset-service.ts";
import { createDatasetSchema, datasetNameSchema, sampleIndexesSchema, sampleRangeQuerySchema, versionParamSchema, type DatasetVersion, type SampleReadResponse } from "../datasets/dataset-wire.ts";
import { sampleResponseParts, samplesJson } from "../datasets/sample-wire.ts";
import type { GatewayMetrics } from "../metrics.ts";
import { principalOf, type AuthEnv } from "./auth.ts";
import { errorResponse } from "./errors.ts";
import { notModified, parseRange, rangeAllowed } from "./http-range.ts";
import { encodeMsgpack, respondEncoded, respondParts, wantsMsgpack } from "./negotiate.ts";
import { validBody, validParams } from "./validate.ts";

const nameParams = z.object({ name: datasetNameSchema });
const offsetText = (name: string) => z.string().regex(/^\d{1,16}$/, { message: `${name} must be a non-negative integer` }).transform(Number);
const partitionParams = z.object({ name: z.string(), partition: offsetText("partition") });
const segmentParams = z.object({ name: z.string(), partition: offsetText("partition"), base: offsetText("base") });
const versionParams = z.object({ name: datasetNameSchema, version: versionParamSchema });

export function datasetRoutes(datasets: DatasetService, metrics: GatewayMetrics, limited: MiddlewareHandler, records: BoundedMsgpackDecoder) {
  /** The version the request names, after checking the token may consume its stream. */
  const allowedVersion = (c: Parameters<typeof principalOf>[0], name: string, ref: z.output<typeof versionParamSchema>): DatasetVersion => {
    const version = datasets.version(name, ref);
    authorize(principalOf(c), "consume", version.stream);
    return version;
  };

  return new Hono<AuthEnv>()
    .post("/datasets", limited, validBody(createDatasetSchema, records), async (c) => {
      const body = c.req.valid("json").body;
      authorize(principalOf(c), "consume", body.stream);
      return c.json(await datasets.create(body, c.req.header("authorization")), 201);
    })
    .get("/datasets", (c) => {
      const principal = principalOf(c);
      return c.json({ datasets: datasets.list().filter((d) => permits(principal, "consume", d.stream)) });
    })
    .get("/datasets/:name", validParams("param", nameParams), (c) => {
      const description = datasets.describe(c.req.valid("param").name);
      const principal = principalOf(c);
      for (const v of description.versions) authorize(principal, "consume", v.stream);
      return c.json(description);
    })
    .get("/datasets/:name/versions/:version", validParams("param", versionParams), (c) => {
      const { name, version } = c.req.valid("param");
      return c.json(allowedVersion(c, name, version));
    })
    .delete("/datasets/:name/versions/:version", validParams("param", versionParams), async (c) => {
      const { name, version } = c.req.valid("param");
      const released = await datasets.release(name, allowedVersion(c, name, version).version);
      return c.json({ name, version: released.version, released: true as const });
    })
    .get("/datasets/:name/versions/:version/samples", validParams("param", versionParams), validParams("query", sampleRangeQuerySchema), async (c) => {
      const { name, version } = c.req.valid("param");
      const q = c.req.valid("query");
      const dataset = allowedVersion(c, name, version);
      const batch = await datasets.readRange(dataset, q.start, q.count, { maxBytes: q.max_bytes, authorization: c.req.header("authorization") });
      const fields = q.fields ?? dataset.fields ?? undefined;
      return sampleAnswer(c, metrics, dataset.stream, wantsMsgpack(c), batch, fields);
    })
    .post("/datasets/:name/versions/:version/samples", limited, validParams("param", versionParams), validBody(sampleIndexesSchema, records), async (c) => {
      const { name, version } = c.req.valid("param");
      const body = c.req.valid("json").body;
      const dataset = allowedVersion(c, name, version);
      const batch = await datasets.readAt(dataset, body.indexes, { maxBytes: body.max_bytes, authorization: c.req.header("authorization") });
      const fields = body.fields ?? dataset.fields ?? undefined;
      return sampleAnswer(c, metrics, dataset.stream, wantsMsgpack(c), batch, fields);
    })
    .get("/streams/:name/partitions/:partition/segments", validParams("param", partitionParams), async (c) => {
      const { name, partition } = c.req.valid("param");
      authorize(principalOf(c), "consume", name);
      return c.json({ segments: await datasets.segments.list(name, partition) });
    })
    .on(["GET", "HEAD"], "/streams/:name/partitions/:partition/segments/:base", validParams("param", segmentParams), async (c) => {
      const { name, partition, base } = c.req.valid("param");
      authorize(principalOf(c), "consume", name);
      return serveSegment(c, datasets, metrics, name, partition, base);
    });
}

/** A committed segment's bytes, whole or one Range (immutable: an ETag that never changes). */
async function serveSegment(c: Context, datasets: DatasetService, metrics: GatewayMetrics, stream: string, partition: number, base: number): Promise<Response> {
  const segment = await datasets.segments.info(stream, partition, base);
  const headers = { etag: `"${partition}-${segment.base}-${segment.end}-${segment.bytes}"`, "accept-ranges": "bytes", "cache-control": "public, max-age=31536000, immutable" };
  if (notModified(c.req.header("if-none-match"), headers.etag)) return new Response(null, { status: 304, headers });
  const range = rangeAllowed(c.req.header("if-range"), headers.etag) ? parseRange(c.req.header("range"), segment.bytes) : null;
  if (range === "unsatisfiable") {
    const res = errorResponse(c, "OFFSET_OUT_OF_RANGE", `range not satisfiable for ${segment.bytes} bytes`, 416);
    res.headers.set("content-range", `bytes */${segment.bytes}`);
    return res;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? segment.bytes;
  const out: Record<string, string> = { ...headers, "content-type": "application/octet-stream", "content-length": String(end - start) };
  if (range) out["content-range"] = `bytes ${start}-${end - 1}/${segment.bytes}`;
  const status = range ? 206 : 200;
  if (c.req.method === "HEAD" || end === start) return new Response(null, { status, headers: out });
  const bytes = await datasets.segments.read(segment.key, start, end);
  metrics.bytesOut.inc({ stream }, bytes.length);
  return new Response(bytes as Uint8Array<ArrayBuffer>, { status, headers: out });
}

/** A sample read's answer: MessagePack as parts (stored fields maps sent as views of their batches, streamed when large), or JSON. */
function sampleAnswer(
  c: Parameters<typeof respondEncoded>[0],
  metrics: GatewayMetrics,
  stream: string,
  msgpack: boolean,
  batch: Parameters<typeof samplesJson>[0],
  fields: readonly string[] | undefined,
) {
  if (msgpack) {
    const body = sampleResponseParts(batch, fields, (value) => encodeMsgpack(value));
    metrics.bytesOut.inc({ stream }, body.length);
    return respondParts<SampleReadResponse>(c, body);
  }
  const text = JSON.stringify(samplesJson(batch, fields));
  metrics.bytesOut.inc({ stream }, text.length);
  return respondEncoded<SampleReadResponse>(c, text, "json");
}
