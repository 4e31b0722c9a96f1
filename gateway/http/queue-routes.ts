// Work-queue routes (docs/queues.md): claim, ack, nack, describe, list, configure. Scopes
// (docs/auth.md): a claim needs consume on every stream it lists; an ack or nack consume on the
// stream of every receipt; a queue is described (and listed) to whoever may consume one of its
// streams, cut to those streams; configuring a queue needs admin. Dead letters are published by
// the gateway itself, whatever the caller may publish.
import { Hono, type MiddlewareHandler } from "hono";
import type { BoundedMsgpackDecoder } from "../../core/log/msgpack-bounds.ts";
import { authorize, authorizeAny, permits, type Principal } from "../auth/principal.ts";
import type { ClaimedRecord, QueueService } from "../queues/queue-service.ts";
import { encodeClaimedMsgpack } from "../queues/claim-msgpack.ts";
import { decodeRawRecord } from "../queues/raw-record.ts";
import { parseReceipt } from "../queues/receipt.ts";
import { ackRequestSchema, claimRequestSchema, nackRequestSchema, queueConfigSchema, type ClaimResponse, type QueueDescription } from "../queues/queue-wire.ts";
import { jsonReadResponse } from "../streams/read-wire.ts";
import { principalOf, type AuthEnv } from "./auth.ts";
import { respond, respondEncoded, wantsMsgpack } from "./negotiate.ts";
import { validBody } from "./validate.ts";
import { annotateSpan } from "./trace-middleware.ts";

/** Consume on the stream of every well-formed receipt (malformed ones are answered as stale). */
function authorizeReceipts(principal: Principal, receipts: readonly string[]): void {
  for (const receipt of receipts) {
    const parts = parseReceipt(receipt);
    if (parts) authorize(principal, "consume", parts.stream);
  }
}

function visible(principal: Principal, description: QueueDescription): QueueDescription {
  const streams = [...new Set(description.partitions.map((p) => p.stream))];
  if (streams.length > 0 && !streams.some((s) => permits(principal, "consume", s))) authorize(principal, "consume", streams[0]);
  const partitions = description.partitions.filter((p) => permits(principal, "consume", p.stream));
  const totals = { in_flight: 0, pending: 0, redelivered: 0, dead_lettered: 0, acked: 0 };
  for (const p of partitions) for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += p[k];
  return { ...description, partitions, totals };
}

function jsonClaimed(claimed: readonly ClaimedRecord[]): ClaimResponse {
  return {
    records: claimed.map((c) => {
      const [record] = jsonReadResponse({ stream: c.stream, records: [decodeRawRecord(c.raw)], nextOffset: 0, endOffset: 0 }).records;
      return { receipt: c.receipt, stream: c.stream, partition: c.partition, ...record!, deliveries: c.deliveries };
    }),
  };
}

export function queueRoutes(queues: QueueService, limited: MiddlewareHandler, records: BoundedMsgpackDecoder) {
  return new Hono<AuthEnv>()
    .get("/queues", (c) => {
      const principal = principalOf(c);
      const all = queues.list().filter((q) => q.streams.length === 0 || q.streams.some((s) => permits(principal, "consume", s)));
      return c.json({ queues: all.map((q) => ({ ...q, streams: q.streams.filter((s) => permits(principal, "consume", s)) })) });
    })
    .get("/queues/:group", (c) => c.json(visible(principalOf(c), queues.describe(c.req.param("group")))))
    .put("/queues/:group", limited, validBody(queueConfigSchema, records), async (c) => {
      authorizeAny(principalOf(c), ["admin"]);
      return c.json({ group: c.req.param("group"), config: await queues.configure(c.req.param("group"), c.req.valid("json").body) });
    })
    .post("/queues/:group/claim", limited, validBody(claimRequestSchema, records), async (c) => {
      const body = c.req.valid("json").body;
      const principal = principalOf(c);
      for (const stream of body.streams) authorize(principal, "consume", stream);
      const claimed = await queues.claim(c.req.param("group"), body, c.req.raw.signal, c.req.header("authorization"));
      // MessagePack keeps key and header bytes, tensors and artefact refs native: the stored bytes as they are.
      if (wantsMsgpack(c)) return respondEncoded<ClaimResponse>(c, encodeClaimedMsgpack(claimed), "msgpack");
      return respond(c, jsonClaimed(claimed), "json");
    })
    .post("/queues/:group/ack", limited, validBody(ackRequestSchema, records), async (c) => {
      const body = c.req.valid("json").body;
      authorizeReceipts(principalOf(c), body.receipts);
      annotateSpan(c, () => ({ "messaging.batch.message_count": body.receipts.length }));
      return c.json(await queues.ack(c.req.param("group"), body.receipts));
    })
    .post("/queues/:group/nack", limited, validBody(nackRequestSchema, records), async (c) => {
      const body = c.req.valid("json").body;
      authorizeReceipts(principalOf(c), body.receipts);
      return c.json(await queues.nack(c.req.param("group"), body));
    });
}
