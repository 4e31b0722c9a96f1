// Records on the HTTP wire. MessagePack keeps bytes, tensors and artefact refs native; JSON uses
// the tagged forms of core/json-value.ts.
import { bytesToBase64, toJsonValue } from "../../core/json-value.ts";
import type { LogRecord } from "../../core/record.ts";
import type { ReadResult } from "../services/log-service.ts";

export type JsonBytes = { $base64: string };

export interface JsonRecord {
  offset: number;
  timestamp: number;
  key: JsonBytes | null;
  headers: Record<string, string | JsonBytes>;
  fields: Record<string, unknown>;
}

export interface JsonReadResponse {
  records: JsonRecord[];
  next_offset: number;
  end_offset: number;
}

function jsonRecord(r: LogRecord): JsonRecord {
  const headers: Record<string, string | JsonBytes> = {};
  for (const [name, value] of Object.entries(r.headers)) headers[name] = typeof value === "string" ? value : { $base64: bytesToBase64(value) };
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key ? { $base64: bytesToBase64(r.key) } : null,
    headers,
    fields: toJsonValue(r.fields) as Record<string, unknown>,
  };
}

export function jsonReadResponse(result: ReadResult): JsonReadResponse {
  return { records: result.records.map(jsonRecord), next_offset: result.nextOffset, end_offset: result.endOffset };
}

export function msgpackReadResponse(result: ReadResult): unknown {
  return {
    records: result.records.map((r) => ({ offset: r.offset, timestamp: r.timestamp, key: r.key, headers: r.headers, fields: r.fields })),
    next_offset: result.nextOffset,
    end_offset: result.endOffset,
  };
}
