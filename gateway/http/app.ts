// The HTTP API: one Hono app built from the services. Routes decode, call a service, encode.
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { StrataError } from "../../core/errors.ts";
import { parsePublishRequest } from "../../core/log/publish-request.ts";
import type { Acks } from "../../core/log/record.ts";
import type { GatewayMetrics } from "../metrics.ts";
import type { GroupService } from "../consumers/group-service.ts";
import type { ServiceLimits } from "../streams/service-limits.ts";
import type { LogService, RecordPosition } from "../streams/log-service.ts";
import type { Retention, StreamInfo, StreamService } from "../streams/stream-service.ts";
import { artefactRoutes } from "./artefact-routes.ts";
import type { GatewayServices } from "../services.ts";
import { errorResponse, onError } from "./errors.ts";
import { encodeMsgpack, MSGPACK, msgpackResponse, readBody, wantsMsgpack } from "./negotiate.ts";
import { encodeRawReadResponse, jsonReadResponse, msgpackReadResponse, type JsonBytes, type JsonReadResponse } from "../streams/read-wire.ts";
import { jsonInput, queryInput } from "./typed-input.ts";


/** The JSON shape of a publish request (MessagePack: the same with native bytes). */
export interface PublishBody {
  records: { key?: string | JsonBytes | null; partition?: number; headers?: Record<string, string | JsonBytes>; fields: Record<string, unknown> }[];
  producer?: { id: number; epoch: number; seq: number };
}

export interface CreateStreamBody {
  name: string;
  partitions?: number;
  retention?: Partial<Retention>;
}

type ReadQuery = { offset?: string; max_records?: string; max_bytes?: string; fields?: string; wait_ms?: string };

function intParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^-?\d{1,16}$/.test(value)) throw new StrataError("BAD_REQUEST", `${name} must be an integer`);
  return Number(value);
}

function acksParam(value: string | undefined): Acks {
  if (value === undefined || value === "local" || value === "durable") return value ?? "local";
  throw new StrataError("BAD_REQUEST", "acks must be local or durable");
}

export interface AppOptions {
  /** Origins (e.g. "http://localhost:8080") whose browser pages may call the API; none by default. */
  readonly corsOrigins?: readonly string[];
}

export function createApp(services: GatewayServices, options: AppOptions = {}) {
  const { streams, log, groups, metrics, limits } = services;
  const tooLarge = (c: Context) => errorResponse(c, "PAYLOAD_TOO_LARGE", `request body is larger than ${limits.maxRequestBytes} bytes`, 413);
  const streamedLimit = bodyLimit({ maxSize: limits.maxRequestBytes, onError: tooLarge });
  // A body with a Content-Length is judged by the header alone (as hono's bodyLimit does) without
  // first touching c.req.raw.body, which makes Bun build a stream per request; chunked bodies
  // are counted by hono's bodyLimit.
  const limitBody: MiddlewareHandler = async (c, next) => {
    const length = c.req.header("content-length");
    if (length !== undefined && c.req.header("transfer-encoding") === undefined) {
      if (parseInt(length, 10) > limits.maxRequestBytes) return tooLarge(c);
      await next();
      return;
    }
    return streamedLimit(c, next);
  };

  const v1 = new Hono()
    .post("/streams", limitBody, jsonInput<CreateStreamBody>(), async (c) => {
      const { value } = await readBody(c);
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new StrataError("BAD_REQUEST", "body must be an object {name, partitions?, retention?}");
      const stream: StreamInfo = await streams.create(value as CreateStreamBody);
      return c.json(stream, 201);
    })
    .get("/streams", (c) => c.json({ streams: streams.list() }))
    .get("/streams/:name", (c) => c.json(streams.get(c.req.param("name"))))
    .post("/streams/:name/records", limitBody, jsonInput<PublishBody>(), queryInput<{ acks?: Acks }>(), async (c) => {
      const name = c.req.param("name");
      streams.require(name);
      const acks = acksParam(c.req.query("acks"));
      const { form, value } = await readBody(c);
      const positions: RecordPosition[] = await log.publish(name, parsePublishRequest(value, form, limits), acks);
      const body = { records: positions };
      return wantsMsgpack(c) ? (msgpackResponse(body) as unknown as ReturnType<typeof c.json<typeof body>>) : c.json(body);
    })
    .get("/streams/:name/partitions/:partition/records", queryInput<ReadQuery>(), async (c) => {
      const q = c.req.query();
      const fields = q.fields === undefined ? undefined : q.fields.split(",").filter((f) => f.length > 0);
      const request = {
        stream: c.req.param("name"),
        partition: intParam(c.req.param("partition"), "partition")!,
        offset: intParam(q.offset, "offset") ?? 0,
        maxRecords: intParam(q.max_records, "max_records"),
        maxBytes: intParam(q.max_bytes, "max_bytes"),
        waitMs: intParam(q.wait_ms, "wait_ms"),
        signal: c.req.raw.signal,
      };
      // One encoding pass either way; the cast keeps hono/client's JSON types for this route.
      type Typed = ReturnType<typeof c.json<JsonReadResponse>>;
      const msgpack = wantsMsgpack(c);
      if (msgpack && fields === undefined) {
        // Unprojected MessagePack reads forward the stored record bytes without decoding them.
        const raw = await log.readRaw(request);
        const bytes = encodeRawReadResponse(raw);
        metrics.bytesOut.inc({ stream: raw.stream }, bytes.length);
        return c.body(bytes as Uint8Array<ArrayBuffer>, 200, { "content-type": MSGPACK }) as unknown as Typed;
      }
      const result = await log.read({ ...request, fields });
      if (msgpack) {
        const bytes = encodeMsgpack(msgpackReadResponse(result));
        metrics.bytesOut.inc({ stream: result.stream }, bytes.length);
        return c.body(bytes as Uint8Array<ArrayBuffer>, 200, { "content-type": MSGPACK }) as unknown as Typed;
      }
      const text = JSON.stringify(jsonReadResponse(result));
      metrics.bytesOut.inc({ stream: result.stream }, text.length);
      return c.body(text, 200, { "content-type": "application/json" }) as unknown as Typed;
    })
    .post("/groups/:group/offsets", limitBody, jsonInput<{ stream: string; partition?: number; offset: number }>(), async (c) => {
      const { value } = await readBody(c);
      if (typeof value !== "object" || value === null) throw new StrataError("BAD_REQUEST", "body must be an object {stream, partition, offset}");
      return c.json(await groups.commit(c.req.param("group"), value as { stream: unknown; partition: unknown; offset: unknown }));
    })
    .get("/groups/:group/offsets", queryInput<{ stream?: string }>(), async (c) =>
      c.json({ offsets: await groups.get(c.req.param("group"), c.req.query("stream")) }),
    );

  const base = new Hono();
  if (options.corsOrigins && options.corsOrigins.length > 0) {
    base.use("*", cors({ origin: [...options.corsOrigins], allowMethods: ["GET", "HEAD", "POST", "PUT"], exposeHeaders: ["Content-Length", "Content-Range", "ETag"], maxAge: 600 }));
  }
  const app = base
    .get("/healthz", (c) => c.json({ status: "ok" as const }))
    .get("/metrics", (c) => c.text(metrics.registry.render(), 200, { "content-type": "text/plain; version=0.0.4" }))
    .route("/v1", v1)
    .route("/v1", artefactRoutes(services.artefacts));
  app.notFound((c) => errorResponse(c, "NOT_FOUND", `no route ${c.req.method} ${c.req.path}`, 404));
  app.onError(onError);
  return app;
}

export type AppType = ReturnType<typeof createApp>;
