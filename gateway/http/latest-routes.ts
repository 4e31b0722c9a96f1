// Compacted streams (docs/compaction.md): the latest record per key, with its long-poll, and the
// on-demand compaction. Scopes (docs/auth.md): `latest` needs consume on the stream (it is a
// read); `POST /v1/admin/compact` needs admin on the stream it names.
import { Hono, type MiddlewareHandler } from "hono";
import type { BoundedMsgpackDecoder } from "../../core/log/msgpack-bounds.ts";
import { authorize } from "../auth/principal.ts";
import type { StreamCompactor } from "../streams/latest-compactor.ts";
import type { LogRecord } from "../../core/log/record.ts";
import { jsonReadResponse } from "../streams/read-wire.ts";
import type { LatestService } from "../streams/latest-service.ts";
import type { LiveEntry } from "../streams/latest-index.ts";
import { compactRequestSchema, latestQuerySchema, type CompactResponse, type LatestResponse } from "../streams/latest-wire.ts";
import { principalOf, requireScope, type AuthEnv } from "./auth.ts";
import { encodeMsgpack, respond, respondEncoded, wantsMsgpack } from "./negotiate.ts";
import { validBody, validParams } from "./validate.ts";

const utf8 = new TextEncoder();

function jsonLatest(stream: string, watermark: string, records: readonly LiveEntry[]): LatestResponse {
  const asRead: LogRecord[] = records.map((r) => ({ offset: r.offset, timestamp: r.timestamp, key: r.key, headers: r.headers, fields: r.fields }));
  const json = jsonReadResponse({ stream, records: asRead, nextOffset: 0, endOffset: 0 }).records;
  return { stream, watermark, records: json.map((r, i) => ({ key: r.key, partition: records[i]!.partition, offset: r.offset, timestamp: r.timestamp, headers: r.headers, fields: r.fields })) };
}

export function latestRoutes(latest: LatestService, compactor: StreamCompactor, limited: MiddlewareHandler, decoder: BoundedMsgpackDecoder) {
  return new Hono<AuthEnv>()
    .post("/admin/compact", limited, validBody(compactRequestSchema, decoder), async (c) => {
      const { stream } = c.req.valid("json").body;
      authorize(principalOf(c), "admin", stream);
      const done = await compactor.compact(stream);
      return respond<CompactResponse>(c, { stream, segments_rewritten: done.segmentsRewritten, records_removed: done.recordsRemoved });
    })
    .use("/streams/:name/latest", requireScope(["consume"], "name"))
    .get("/streams/:name/latest", validParams("query", latestQuerySchema), async (c) => {
      const stream = c.req.param("name");
      const q = c.req.valid("query");
      const view = await latest.latest({
        stream,
        ...(q.key !== undefined ? { key: utf8.encode(q.key) } : {}),
        ...(q.after !== undefined ? { after: q.after } : {}),
        ...(q.wait_ms !== undefined ? { waitMs: q.wait_ms } : {}),
        signal: c.req.raw.signal,
      });
      if (wantsMsgpack(c)) {
        const records = view.records.map((r) => ({ key: r.key, partition: r.partition, offset: r.offset, timestamp: r.timestamp, headers: r.headers, fields: r.fields }));
        return respondEncoded<LatestResponse>(c, encodeMsgpack({ stream, watermark: view.watermark, records }), "msgpack");
      }
      return respond<LatestResponse>(c, jsonLatest(stream, view.watermark, view.records), "json");
    });
}
