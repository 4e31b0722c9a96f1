// Dataset routes (docs/datasets.md). Scopes (docs/auth.md): creating a version, listing,
// describing and reading samples need consume on the dataset's stream (a listing shows only the
// datasets whose stream the token may consume); releasing a version needs consume on its stream
// too: a version pins data its holders may read anyway, and whoever could create it may drop it.
import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import type { BoundedMsgpackDecoder } from "../../core/log/msgpack-bounds.ts";
import { authorize, permits } from "../auth/principal.ts";
import type { DatasetService } from "../datasets/dataset-service.ts";
import { createDatasetSchema, datasetNameSchema, sampleIndexesSchema, sampleRangeQuerySchema, versionParamSchema, type DatasetVersion, type SampleReadResponse } from "../datasets/dataset-wire.ts";
import { encodeSamplesMsgpack, samplesJson } from "../datasets/sample-wire.ts";
import type { GatewayMetrics } from "../metrics.ts";
import { principalOf, type AuthEnv } from "./auth.ts";
import { encodeMsgpack, respondEncoded, wantsMsgpack } from "./negotiate.ts";
import { validBody, validParams } from "./validate.ts";

const nameParams = z.object({ name: datasetNameSchema });
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
      return c.json(await datasets.create(body), 201);
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
      const batch = await datasets.readRange(dataset, q.start, q.count, { maxBytes: q.max_bytes });
      const fields = q.fields ?? dataset.fields ?? undefined;
      return sampleAnswer(c, metrics, dataset.stream, wantsMsgpack(c), batch, fields);
    })
    .post("/datasets/:name/versions/:version/samples", limited, validParams("param", versionParams), validBody(sampleIndexesSchema, records), async (c) => {
      const { name, version } = c.req.valid("param");
      const body = c.req.valid("json").body;
      const dataset = allowedVersion(c, name, version);
      const batch = await datasets.readAt(dataset, body.indexes, { maxBytes: body.max_bytes });
      const fields = body.fields ?? dataset.fields ?? undefined;
      return sampleAnswer(c, metrics, dataset.stream, wantsMsgpack(c), batch, fields);
    });
}

function sampleAnswer(
  c: Parameters<typeof respondEncoded>[0],
  metrics: GatewayMetrics,
  stream: string,
  msgpack: boolean,
  batch: Parameters<typeof samplesJson>[0],
  fields: readonly string[] | undefined,
) {
  const bytes = msgpack ? encodeSamplesMsgpack(batch, fields, (value) => encodeMsgpack(value)) : JSON.stringify(samplesJson(batch, fields));
  metrics.bytesOut.inc({ stream }, bytes.length);
  return respondEncoded<SampleReadResponse>(c, bytes, msgpack ? "msgpack" : "json");
}
