// publish(): POST /v1/streams/{name}/records from a browser, as JSON (bytes, tensors and
// artefact refs in the tagged form of core/log/json-value.ts) or as MessagePack (native bytes and
// the extension types of core/log/extensions.ts). Not retried: a retry without a producer could
// publish the records twice.
import { encode } from "@msgpack/msgpack";
import { StrataError } from "../../core/errors.ts";
import { extensionCodec } from "../../core/log/extensions.ts";
import { toJsonValue } from "../../core/log/json-value.ts";
import type { Acks, Fields, Headers, ProducerRef } from "../../core/log/record.ts";
import { assertStreamName } from "../../core/log/stream-name.ts";
import { GatewayHttp } from "../artefacts/gateway-http.ts";
import { BROWSER_LIMITS } from "./limits.ts";

/** One record to publish. */
export interface BrowserRecord {
  readonly key?: string | Uint8Array | null;
  readonly partition?: number;
  readonly headers?: Headers;
  readonly fields: Fields;
}

export interface PublishOptions {
  /** Idempotent producer identity: a retried (id, epoch, seq) is answered with its original offsets. */
  readonly producer?: ProducerRef;
  /** Wire format of the request body (default "json"). */
  readonly format?: "json" | "msgpack";
  /** "local" (default): acknowledged after the WAL fsync; "durable": once in the object store. */
  readonly acks?: Acks;
  /** A token allowed to publish on the stream (sent as `Authorization: Bearer`). */
  readonly token?: string;
}

export interface PublishedPosition {
  readonly partition: number;
  readonly offset: number;
}

const JSON_TYPE = "application/json";
const MSGPACK = "application/msgpack";

function jsonRecord(r: BrowserRecord): Record<string, unknown> {
  const out: Record<string, unknown> = { fields: toJsonValue(r.fields) };
  if (r.key !== undefined && r.key !== null) out.key = toJsonValue(r.key);
  if (r.partition !== undefined) out.partition = r.partition;
  if (r.headers !== undefined) out.headers = toJsonValue(r.headers);
  return out;
}

function body(records: readonly BrowserRecord[], options: PublishOptions): { bytes: Uint8Array | string; type: string } {
  const producer = options.producer ? { producer: { id: options.producer.id, epoch: options.producer.epoch, seq: options.producer.seq } } : {};
  if (options.format === "msgpack") {
    const wire = records.map((r) => ({ ...r, ...(typeof r.key === "string" ? { key: new TextEncoder().encode(r.key) } : {}) }));
    return { bytes: encode({ records: wire, ...producer }, { extensionCodec, ignoreUndefined: true }), type: MSGPACK };
  }
  return { bytes: JSON.stringify({ records: records.map(jsonRecord), ...producer }), type: JSON_TYPE };
}

/** Publishes `records` to `stream`; answers each record's partition and offset, in request order. */
export async function publish(
  gatewayUrl: string,
  stream: string,
  records: readonly BrowserRecord[],
  options: PublishOptions = {},
): Promise<PublishedPosition[]> {
  assertStreamName(stream);
  if (!Array.isArray(records) || records.length === 0) throw new StrataError("BAD_REQUEST", "publish: give at least one record");
  const http = new GatewayHttp(gatewayUrl, { requestTimeoutMs: BROWSER_LIMITS.requestTimeoutMs, attempts: 1, ...(options.token !== undefined ? { token: options.token } : {}) });
  const { bytes, type } = body(records, options);
  const path = `/v1/streams/${encodeURIComponent(stream)}/records${options.acks ? `?acks=${options.acks}` : ""}`;
  const what = `POST ${path}`;
  const response = await http.request(path, { method: "POST", body: bytes, contentType: type, accept: JSON_TYPE, idempotent: false }, what);
  let answer: { records?: unknown };
  try {
    answer = (await response.json()) as { records?: unknown };
  } catch (e) {
    throw new StrataError("CORRUPT_DATA", `${what}: malformed JSON answer: ${(e as Error).message}`);
  }
  const positions = answer.records;
  if (!Array.isArray(positions) || positions.length !== records.length) throw new StrataError("CORRUPT_DATA", `${what}: answer does not list ${records.length} positions`);
  return positions.map((p: unknown) => {
    const { partition, offset } = (p ?? {}) as { partition?: unknown; offset?: unknown };
    if (!Number.isSafeInteger(partition) || !Number.isSafeInteger(offset)) throw new StrataError("CORRUPT_DATA", `${what}: malformed position in the answer`);
    return { partition: partition as number, offset: offset as number };
  });
}
