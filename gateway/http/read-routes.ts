// Reading a partition: `GET /v1/streams/{name}/partitions/{p}/records`. Scope (docs/auth.md):
// consume on the stream, checked by the `/streams/:name/partitions/*` guard mounted here. In
// cluster mode a read of a partition led elsewhere is proxied to its leader (cluster-proxy.ts).
import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import type { GatewayMetrics } from "../metrics.ts";
import type { LogService } from "../streams/log-service.ts";
import { jsonReadResponse, msgpackReadResponse, rawReadResponseParts, type JsonReadResponse } from "../streams/read-wire.ts";
import { requireScope, type AuthEnv } from "./auth.ts";
import { encodeMsgpack, respondEncoded, respondParts, wantsMsgpack } from "./negotiate.ts";
import { validParams } from "./validate.ts";
import { withReadSpan } from "./trace-middleware.ts";
import { GROUP_NAME } from "../consumers/group-wire.ts";

/** An integer query or path parameter, as the URL carries it (range checks are the service's). */
const integer = (name: string) =>
  z
    .string()
    .regex(/^(-?\d{1,16})?$/, { message: `${name} must be an integer` })
    .transform((v) => (v === "" ? undefined : Number(v)));

const readParams = z.object({ name: z.string(), partition: integer("partition").pipe(z.number({ message: "partition must be an integer" })) });

const readQuery = z.object({
  offset: integer("offset").optional(),
  max_records: integer("max_records").optional(),
  max_bytes: integer("max_bytes").optional(),
  wait_ms: integer("wait_ms").optional(),
  /** Field names to keep, comma-separated. */
  fields: z
    .string()
    .optional()
    .transform((v) => v?.split(",").filter((f) => f.length > 0)),
  /** A CEL expression over fields, headers, key and timestamp (docs/filters.md). */
  filter: z.string().optional(),
  /** The consumer group the read is for: the start of the group's processing time (docs/anomalies.md). */
  group: z.string().regex(GROUP_NAME, { message: `group must match ${GROUP_NAME.source}` }).optional(),
});

/** `proxy`: cluster mode's pass-through of reads of partitions led elsewhere (cluster-proxy.ts), after the scope check. */
export function readRoutes(log: LogService, metrics: GatewayMetrics, proxy?: MiddlewareHandler<AuthEnv>) {
  const routes = new Hono<AuthEnv>().use("/streams/:name/partitions/*", requireScope(["consume"], "name"));
  if (proxy) routes.use("/streams/:name/partitions/:partition/*", proxy);
  return routes
    .get("/streams/:name/partitions/:partition/records", validParams("param", readParams), validParams("query", readQuery), async (c) => {
      const { name, partition } = c.req.valid("param");
      const q = c.req.valid("query");
      const request = {
        stream: name,
        partition,
        offset: q.offset ?? 0,
        maxRecords: q.max_records,
        maxBytes: q.max_bytes,
        waitMs: q.wait_ms,
        filter: q.filter,
        group: q.group,
        signal: c.req.raw.signal,
        transport: "http" as const,
      };
      // One encoding pass either way, counted for the metrics; the JSON form is the same either way.
      if (wantsMsgpack(c)) {
        // Unprojected MessagePack reads forward the stored record bytes without decoding them,
        // sent as parts: views of the read buffers between small framing pieces.
        if (q.fields === undefined) {
          const body = rawReadResponseParts(withReadSpan(c, await log.readRaw(request)));
          metrics.bytesOut.inc({ stream: name }, body.length);
          return respondParts<JsonReadResponse>(c, body);
        }
        const bytes = encodeMsgpack(msgpackReadResponse(withReadSpan(c, await log.read({ ...request, fields: q.fields }))));
        metrics.bytesOut.inc({ stream: name }, bytes.length);
        return respondEncoded<JsonReadResponse>(c, bytes, "msgpack");
      }
      const result = withReadSpan(c, await log.read({ ...request, fields: q.fields }));
      const text = JSON.stringify(jsonReadResponse(result));
      metrics.bytesOut.inc({ stream: result.stream }, text.length);
      return respondEncoded<JsonReadResponse>(c, text, "json");
    });
}
