// Cluster mode: the queues and datasets run on the coordinator, but their partitions may be led
// by other gateways. LogService.readRaw reads such a partition through this (the composition root
// hands it in as the leader reader): the leader's read route in MessagePack
// (`GET {leader}/v1/streams/{name}/partitions/{p}/records`, `strata-forwarded: 1`, the caller's
// Authorization, or the gateway's own credential for the services' calls) and locates each record's key, headers and fields in the
// answer, exactly as stored on the leader (no decode or re-encode): the same RawRecord a local
// read gives. A leader that does not answer is NOT_LEADER (503, retryable).
import { decode } from "@msgpack/msgpack";
import { z } from "zod";
import { ERROR_STATUS, StrataError, type ErrorCode } from "../../core/errors.ts";
import { msgpackValueEnd, type RawRecord } from "../../core/log/batch.ts";
import type { RawReadResult, ReadRequest } from "../streams/log-service.ts";
import { FORWARDED_HEADER } from "../streams/partition-route.ts";

/** The leader answers with its error envelope; its code is kept. */
const errorAnswer = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
const offsetValue = z.number().int().nonnegative();

export interface RemoteReadOptions {
  /** Longest wait for the leader's answer beyond the read's own wait_ms. */
  readonly timeoutMs: number;
  readonly authorization?: string;
  readonly fetch?: typeof fetch;
}

/** One read of a partition led by `leader`, as LogService.readRaw answers it. */
export async function readRawFromLeader(leader: { readonly url: string; readonly node: string }, request: Omit<ReadRequest, "fields">, options: RemoteReadOptions): Promise<RawReadResult> {
  const query = new URLSearchParams({ offset: String(request.offset) });
  if (request.maxRecords !== undefined) query.set("max_records", String(request.maxRecords));
  if (request.maxBytes !== undefined) query.set("max_bytes", String(request.maxBytes));
  if (request.waitMs !== undefined && request.waitMs > 0) query.set("wait_ms", String(request.waitMs));
  if (request.filter !== undefined) query.set("filter", request.filter);
  const url = new URL(`/v1/streams/${encodeURIComponent(request.stream)}/partitions/${request.partition}/records?${query}`, leader.url);
  const headers: Record<string, string> = { accept: "application/msgpack", [FORWARDED_HEADER]: "1" };
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  const timeout = AbortSignal.timeout(options.timeoutMs + (request.waitMs ?? 0));
  const signal = request.signal === undefined ? timeout : AbortSignal.any([timeout, request.signal]);
  let answer: Response;
  let body: Uint8Array;
  try {
    answer = await (options.fetch ?? fetch)(url, { headers, signal });
    body = new Uint8Array(await answer.arrayBuffer());
  } catch (e) {
    if (request.signal?.aborted) throw e;
    throw new StrataError("NOT_LEADER", `the leader ${leader.node} of ${request.stream}/${request.partition} did not answer a read; retry`, { cause: e });
  }
  if (!answer.ok) {
    const parsed = errorAnswer.safeParse(safeDecode(body, answer.headers.get("content-type")));
    if (parsed.success) throw new StrataError(asCode(parsed.data.error.code), parsed.data.error.message);
    throw new StrataError("NOT_LEADER", `the leader ${leader.node} answered a read with ${answer.status}; retry`);
  }
  return { stream: request.stream, ...locateRecords(body) };
}

function safeDecode(body: Uint8Array, contentType: string | null): unknown {
  try {
    return contentType?.includes("json") ? JSON.parse(new TextDecoder().decode(body)) : decode(body);
  } catch {
    return undefined;
  }
}

const knownCode = z.custom<ErrorCode>((v) => typeof v === "string" && Object.hasOwn(ERROR_STATUS, v));

/** An error code the leader sent, as one of ours (an unknown one is the leader's failure: retry). */
function asCode(code: string): ErrorCode {
  const known = knownCode.safeParse(code);
  return known.success ? known.data : "NOT_LEADER";
}

/**
 * The records of a MessagePack read answer `{records: [{offset, timestamp, key, headers,
 * fields}], next_offset, end_offset}` (gateway/streams/read-wire.ts), each located in the answer.
 */
export function locateRecords(body: Uint8Array): Omit<RawReadResult, "stream"> {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const end = body.length;
  const scalar = (from: number, to: number): unknown => decode(body.subarray(from, to));
  const corrupt = (what: string) => new StrataError("CORRUPT_DATA", `a leader's read answer: ${what}`);
  let pos = 0;
  const mapHeader = (): number => {
    const t = body[pos]!;
    if (t >= 0x80 && t <= 0x8f) return (pos++, t & 0x0f);
    if (t === 0xde) return ((pos += 3), view.getUint16(pos - 2));
    if (t === 0xdf) return ((pos += 5), view.getUint32(pos - 4));
    throw corrupt("a map was expected");
  };
  const arrayHeader = (): number => {
    const t = body[pos]!;
    if (t >= 0x90 && t <= 0x9f) return (pos++, t & 0x0f);
    if (t === 0xdc) return ((pos += 3), view.getUint16(pos - 2));
    if (t === 0xdd) return ((pos += 5), view.getUint32(pos - 4));
    throw corrupt("an array was expected");
  };
  const key = (): string => {
    const keyEnd = msgpackValueEnd(body, view, pos, end);
    const name = scalar(pos, keyEnd);
    pos = keyEnd;
    if (typeof name !== "string") throw corrupt("a map key is not a string");
    return name;
  };
  const skip = (): [number, number] => {
    const from = pos;
    pos = msgpackValueEnd(body, view, pos, end);
    return [from, pos];
  };
  const integer = (what: string): number => {
    const [from, to] = skip();
    const parsed = offsetValue.safeParse(scalar(from, to));
    if (!parsed.success) throw corrupt(`${what} is not a non-negative integer`);
    return parsed.data;
  };
  const records: RawRecord[] = [];
  let nextOffset: number | undefined;
  let endOffset: number | undefined;
  for (let n = mapHeader(); n > 0; n--) {
    const name = key();
    if (name === "records") {
      for (let r = arrayHeader(); r > 0; r--) {
        let offset: number | undefined;
        let timestamp: number | undefined;
        let ranges: Partial<Record<"key" | "headers" | "fields", [number, number]>> = {};
        for (let f = mapHeader(); f > 0; f--) {
          const field = key();
          if (field === "offset") offset = integer("offset");
          else if (field === "timestamp") timestamp = integer("timestamp");
          else if (field === "key" || field === "headers" || field === "fields") ranges = { ...ranges, [field]: skip() };
          else skip();
        }
        if (offset === undefined || timestamp === undefined || !ranges.key || !ranges.headers || !ranges.fields) throw corrupt("a record lacks offset, timestamp, key, headers or fields");
        records.push({ offset, timestamp, batch: body, key: ranges.key, headers: ranges.headers, fields: ranges.fields });
      }
    } else if (name === "next_offset") nextOffset = integer("next_offset");
    else if (name === "end_offset") endOffset = integer("end_offset");
    else skip();
  }
  if (nextOffset === undefined || endOffset === undefined) throw corrupt("next_offset or end_offset is missing");
  return { records, nextOffset, endOffset };
}
