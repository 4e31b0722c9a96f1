// Requests on the control stream: a parsed request in, a service call, the encoded answer out.
// The same services as the HTTP routes; nothing here decides what a request means.
import { StrataError } from "../../core/errors.ts";
import { toPublishRequest } from "../../core/log/publish-request.ts";
import { encodeMessage, EncodedMapEntries, piecesLength, type OutgoingMessage } from "../../core/quic/message-encoding.ts";
import { checkCount, type ControlRequest, type FetchMessage } from "../../core/quic/messages.ts";
import { bytesToHex, hexToBytes } from "../../core/util/hex.ts";
import type { GatewayServices } from "../services.ts";
import type { Publisher } from "../streams/log-service.ts";
import { encodeRawReadResponse } from "../streams/read-wire.ts";
import { QUIC_FRAME_ENVELOPE_BYTES } from "./quic-limits.ts";

const utf8 = new TextEncoder();

/** Context of one connection that requests need. */
export interface RequestContext {
  /** Largest frame the client accepts. */
  readonly peerMaxFrameBytes: number;
  /** Aborted when the connection goes away (ends long-polls). */
  readonly signal: AbortSignal;
  /** The connection's bearer token as an Authorization header, sent on with publishes forwarded in cluster mode. */
  readonly authorization?: string;
}

/**
 * Answers one control-stream request (already authorized) with the bytes of its answer frame;
 * `publisher` is the authenticated subject, which owns the producer ids it publishes with.
 */
export async function handleControlRequest(services: GatewayServices, request: ControlRequest, context: RequestContext, publisher?: Publisher): Promise<Uint8Array[]> {
  const encode = (answer: OutgoingMessage) => encodeMessage(answer, context.peerMaxFrameBytes);
  const { id } = request;
  switch (request.t) {
    case "publish": {
      await services.streams.lookup(request.stream);
      // The frame was validated by the publish schema (the same field-value rule as HTTP's); the
      // service limits are the shared publish conversion's.
      const publish = toPublishRequest(request, "msgpack", services.limits);
      const positions = await services.log.publish(request.stream, publish, request.acks ?? "local", publisher, { authorization: context.authorization });
      return encode({ t: "ack", id, records: positions });
    }
    case "fetch":
      return fetchRecords(services, request, context);
    case "latest": {
      // GET /v1/streams/{name}/latest; a map larger than the client's frame limit is PAYLOAD_TOO_LARGE.
      const { stream, key, after, wait_ms } = request;
      const view = await services.latest.latest({ stream, key: typeof key === "string" ? utf8.encode(key) : key, after, waitMs: wait_ms, signal: context.signal });
      const records = view.records.map(({ key, partition, offset, timestamp, headers, fields }) => ({ key, partition, offset, timestamp, headers, fields }));
      return encode({ t: "latest-records", id, stream, watermark: view.watermark, records });
    }
    case "commit": {
      const { group, stream, partition, offset, member, member_epoch } = request;
      const committed = await services.groups.commit(group, { stream, partition, offset, member, member_epoch });
      return encode({ t: "committed", id, ...committed });
    }
    case "heartbeat": {
      const { group, member, streams, member_epoch, instance, session_timeout_ms } = request;
      const answer = await services.groups.heartbeat(group, { member, streams, member_epoch, instance, session_timeout_ms });
      return encode({ t: "heartbeat-ok", id, ...answer });
    }
    case "leave":
      await services.groups.leave(request.group, request.member);
      return encode({ t: "left", id, group: request.group, member: request.member });
    case "stream-info":
      return encode({ t: "stream", id, ...(await services.streams.info(request.stream)) });
    case "stream-create": {
      const created = await services.streams.create({ name: request.name, partitions: request.partitions, retention: request.retention });
      return encode({ t: "stream", id, ...created });
    }
    case "manifest-get": {
      const loaded = await services.artefacts.manifests.load(request.manifest);
      return encode({ t: "manifest", id, manifest: loaded.id, bytes: loaded.bytes });
    }
    case "chunks-missing": {
      const service = services.artefacts.artefacts;
      checkCount(request.hashes.length, service.limits.maxHashesPerRequest, "hashes");
      const missing = await service.missing(request.hashes.map(bytesToHex));
      return encode({ t: "missing", id, missing: missing.map(hexToBytes) });
    }
  }
}

async function fetchRecords(services: GatewayServices, request: FetchMessage, context: RequestContext): Promise<Uint8Array[]> {
  // The answer must fit the client's frame limit; at least one record is always sent.
  // Room left in a records frame for everything but the records themselves.
  const room = context.peerMaxFrameBytes - QUIC_FRAME_ENVELOPE_BYTES;
  if (room <= 0) throw new StrataError("BAD_REQUEST", "the client's frame limit is too small for records");
  const read = {
    stream: request.stream,
    partition: request.partition,
    offset: request.offset,
    maxRecords: request.max_records,
    maxBytes: Math.min(request.max_bytes ?? services.limits.defaultFetchBytes, room),
    waitMs: request.wait_ms,
    filter: request.filter,
    signal: context.signal,
    transport: "quic" as const,
  };
  let answer: OutgoingMessage;
  let stream: string;
  if (request.fields === undefined) {
    // Stored record bytes are forwarded as they are: the read response map's entries are
    // spliced into the frame after {t, id}.
    const raw = await services.log.readRaw(read, { authorization: context.authorization });
    answer = { t: "records", id: request.id, response: new EncodedMapEntries(encodeRawReadResponse(raw)) };
    stream = raw.stream;
  } else {
    const result = await services.log.read({ ...read, fields: request.fields }, { authorization: context.authorization });
    const records = result.records.map(({ offset, timestamp, key, headers, fields }) => ({ offset, timestamp, key, headers, fields }));
    answer = { t: "records", id: request.id, records, next_offset: result.nextOffset, end_offset: result.endOffset };
    stream = result.stream;
  }
  const pieces = encodeMessage(answer, context.peerMaxFrameBytes);
  services.metrics.bytesOut.inc({ stream }, piecesLength(pieces));
  return pieces;
}
