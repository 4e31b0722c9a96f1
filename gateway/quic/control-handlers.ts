// Requests on the control stream: decode the frame, call a service, encode the answer. The
// same services as the HTTP routes; nothing here decides what a request means.
import { Encoder } from "@msgpack/msgpack";
import { StrataError } from "../../core/errors.ts";
import { bytesToHex, hexToBytes } from "../../core/util/hex.ts";
import { parsePublishRequest } from "../../core/log/publish-request.ts";
import { encodeFrame, frameHeader, type Frame } from "../../core/quic/frames.ts";
import { FRAME, hashList, optionalUint, requestId, str, uint } from "../../core/quic/messages.ts";
import type { Acks } from "../../core/log/record.ts";
import type { GatewayServices } from "../services.ts";
import { encodeRawReadResponse, msgpackReadResponse } from "../streams/read-wire.ts";

/** Context of one connection that requests need. */
export interface RequestContext {
  /** Largest frame the client accepts. */
  readonly peerMaxFrameBytes: number;
  /** Aborted when the connection goes away (ends long-polls). */
  readonly signal: AbortSignal;
}

/** Room left in a records frame for everything but the records themselves. */
const RECORDS_FRAME_OVERHEAD = 1024;
const DEFAULT_FETCH_BYTES = 4 * 1024 * 1024;
const MAX_STREAM_NAME = 200;
const MAX_FIELDS = 1024;

const prefixEncoder = new Encoder();

function acksOf(v: unknown): Acks {
  if (v === undefined || v === null || v === "local" || v === "durable") return (v as Acks | null | undefined) ?? "local";
  throw new StrataError("BAD_REQUEST", "acks must be local or durable");
}

function fieldsOf(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > MAX_FIELDS || !v.every((f) => typeof f === "string")) {
    throw new StrataError("BAD_REQUEST", `fields must be an array of at most ${MAX_FIELDS} strings`);
  }
  return v as string[];
}

/** Answers one control-stream request with the bytes of its answer frame. */
export async function handleControlFrame(services: GatewayServices, frame: Frame, context: RequestContext): Promise<Uint8Array[]> {
  const id = requestId(frame);
  const one = (answer: Frame) => [encodeFrame(answer, context.peerMaxFrameBytes)];
  switch (frame.t) {
    case FRAME.publish: {
      const stream = str(frame.stream, "stream", MAX_STREAM_NAME);
      services.streams.require(stream);
      const request = parsePublishRequest({ records: frame.records, producer: frame.producer }, "msgpack", services.limits);
      const positions = await services.log.publish(stream, request, acksOf(frame.acks));
      return one({ t: FRAME.ack, id, records: positions });
    }
    case FRAME.fetch:
      return fetchRecords(services, frame, id, context);
    case FRAME.commit: {
      const committed = await services.groups.commit(str(frame.group, "group", MAX_STREAM_NAME), { stream: frame.stream, partition: frame.partition, offset: frame.offset });
      return one({ t: FRAME.committed, id, ...committed });
    }
    case FRAME.streamInfo:
      return one({ t: FRAME.stream, id, ...services.streams.get(str(frame.stream, "stream", MAX_STREAM_NAME)) });
    case FRAME.streamCreate: {
      const created = await services.streams.create({ name: frame.name, partitions: frame.partitions, retention: frame.retention });
      return one({ t: FRAME.stream, id, ...created });
    }
    case FRAME.manifestGet: {
      const loaded = await services.artefacts.manifests.load(str(frame.manifest, "manifest", 64));
      return one({ t: FRAME.manifest, id, manifest: loaded.id, bytes: loaded.bytes });
    }
    case FRAME.chunksMissing: {
      const limits = services.artefacts.artefacts.limits;
      const hashes = hashList(frame.hashes, "hashes", limits.maxHashesPerRequest).map(bytesToHex);
      const missing = await services.artefacts.artefacts.missing(hashes);
      return one({ t: FRAME.missing, id, missing: missing.map(hexToBytes) });
    }
    default:
      throw new StrataError("BAD_REQUEST", `unknown request type '${frame.t}' on the control stream`);
  }
}

async function fetchRecords(services: GatewayServices, frame: Frame, id: number, context: RequestContext): Promise<Uint8Array[]> {
  const fields = fieldsOf(frame.fields);
  // The answer must fit the client's frame limit; at least one record is always sent.
  const room = context.peerMaxFrameBytes - RECORDS_FRAME_OVERHEAD;
  if (room <= 0) throw new StrataError("BAD_REQUEST", "the client's frame limit is too small for records");
  const request = {
    stream: str(frame.stream, "stream", MAX_STREAM_NAME),
    partition: uint(frame.partition, "partition", 0, 0xffffffff),
    offset: uint(frame.offset, "offset"),
    maxRecords: optionalUint(frame.max_records, "max_records", 1),
    maxBytes: Math.min(optionalUint(frame.max_bytes, "max_bytes", 1) ?? DEFAULT_FETCH_BYTES, room),
    waitMs: optionalUint(frame.wait_ms, "wait_ms"),
    signal: context.signal,
  };
  if (fields === undefined) {
    // Stored record bytes are forwarded as they are: the frame is {t, id} followed by the
    // three entries of the raw read response, under one map header of five.
    const raw = await services.log.readRaw(request);
    const body = encodeRawReadResponse(raw);
    const prefix = prefixEncoder.encode({ t: FRAME.records, id });
    const size = prefix.length + body.length - 1;
    if (size > context.peerMaxFrameBytes) throw new StrataError("PAYLOAD_TOO_LARGE", `records frame of ${size} bytes exceeds the client's ${context.peerMaxFrameBytes}-byte limit`);
    const head = new Uint8Array(prefix);
    head[0] = 0x85;
    services.metrics.bytesOut.inc({ stream: raw.stream }, size);
    return [frameHeader(size), head, body.subarray(1)];
  }
  const result = await services.log.read({ ...request, fields });
  const bytes = encodeFrame({ t: FRAME.records, id, ...(msgpackReadResponse(result) as Record<string, unknown>) }, context.peerMaxFrameBytes);
  services.metrics.bytesOut.inc({ stream: result.stream }, bytes.length);
  return [bytes];
}
