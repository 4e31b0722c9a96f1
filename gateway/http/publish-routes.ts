// POST /v1/streams/{name}/records: a publish, in one of three bodies. JSON or MessagePack
// ({records, producer}) are decoded, checked and encoded into a batch by the gateway; a
// client-built batch (Content-Type application/vnd.strata.batch, core/log/client-batch.ts) is
// validated and appended as it is, to the partition `?partition=` names or the one its keys
// hash to. Scope: `publish` on the stream (app.ts applies requireScope to this path). In cluster
// mode the parts for partitions led elsewhere are forwarded by LogService with the caller's
// Authorization; `strata-forwarded: 1` marks a request another gateway forwarded (docs/cluster.md).
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { StrataError } from "../../core/errors.ts";
import { CLIENT_BATCH_MEDIA_TYPE } from "../../core/log/client-batch.ts";
import type { BoundedMsgpackDecoder } from "../../core/log/msgpack-bounds.ts";
import { publishBodySchema, toPublishRequest } from "../../core/log/publish-request.ts";
import { withTraceparent } from "../../core/trace/inject.ts";
import { TRACEPARENT_HEADER } from "../../core/trace/traceparent.ts";
import { publisherOf } from "../auth/producer-owners.ts";
import type { GatewayServices } from "../services.ts";
import type { RequestVia } from "../streams/log-service.ts";
import { FORWARDED_HEADER } from "../streams/partition-route.ts";
import { principalOf, type AuthEnv } from "./auth.ts";
import { readBodyBytes, respond } from "./negotiate.ts";
import { validBody, validParams } from "./validate.ts";
import { annotateSpan, publishedAttributes } from "./trace-middleware.ts";

const publishQuery = z.object({
  acks: z.enum(["local", "durable"], { message: "acks must be local or durable" }).optional(),
  /** Only with a client-built batch: the partition it goes to. */
  partition: z
    .string()
    .regex(/^\d{1,9}$/, { message: "partition must be a non-negative integer" })
    .transform(Number)
    .optional(),
});

/** How the request reached this gateway: in cluster mode, parts led elsewhere are forwarded with the caller's Authorization. */
function viaOf(c: Context<AuthEnv>): RequestVia {
  return { authorization: c.req.header("authorization"), forwarded: c.req.header(FORWARDED_HEADER) === "1" };
}

function isClientBatch(contentType: string | undefined): boolean {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase() === CLIENT_BATCH_MEDIA_TYPE;
}

export function publishRoutes(services: Pick<GatewayServices, "streams" | "log" | "auth" | "limits">, limited: MiddlewareHandler, decoder: BoundedMsgpackDecoder) {
  const { streams, log, limits } = services;
  return new Hono<AuthEnv>().post(
    "/streams/:name/records",
    limited,
    validParams("query", publishQuery),
    // A client-built batch is answered here; any other body goes on to the JSON/MessagePack handler.
    async (c, next) => {
      if (!isClientBatch(c.req.header("content-type"))) return next();
      const name = c.req.param("name");
      await streams.lookup(name);
      const { partition, acks } = c.req.valid("query");
      const publisher = publisherOf(services.auth, principalOf(c));
      const positions = await log.publishBatch(name, await readBodyBytes(c), { partition, acks }, publisher, viaOf(c));
      annotateSpan(c, () => publishedAttributes(positions));
      return respond(c, { records: positions });
    },
    validBody(publishBodySchema, decoder),
    async (c) => {
      const name = c.req.param("name");
      await streams.lookup(name);
      const { form, body } = c.req.valid("json");
      const query = c.req.valid("query");
      if (query.partition !== undefined) throw new StrataError("BAD_REQUEST", "?partition= goes with a client-built batch; a JSON or MessagePack body names partitions per record");
      // With auth on, the token's subject registers (or must own) the request's producer id.
      const publisher = publisherOf(services.auth, principalOf(c));
      // A valid HTTP traceparent is stored in each record lacking one (docs/tracing.md); a client-built batch is stored as sent.
      const request = withTraceparent(toPublishRequest(body, form, limits), c.req.header(TRACEPARENT_HEADER), limits.maxHeaders);
      const positions = await log.publish(name, request, query.acks ?? "local", publisher, viaOf(c));
      annotateSpan(c, () => publishedAttributes(positions));
      return respond(c, { records: positions });
    },
  );
}
