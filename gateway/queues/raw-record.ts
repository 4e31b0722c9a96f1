// A stored record located in its batch (RawRecord), decoded alone. Claims take a few records out
// of batches that may hold thousands; decoding only those keeps a claim's cost proportional to
// what it returns rather than to the batches it touches.
import { Decoder } from "@msgpack/msgpack";
import { StrataError } from "../../core/errors.ts";
import type { RawRecord } from "../../core/log/batch.ts";
import { extensionCodec } from "../../core/log/extensions.ts";
import { isStoredTombstone, type Fields, type Headers, type LogRecord } from "../../core/log/record.ts";

const decoder = new Decoder({ extensionCodec });

function part(record: RawRecord, range: readonly [number, number]): unknown {
  return decoder.decode(record.batch.subarray(range[0], range[1]));
}

/** A MessagePack map the batch's CRC has vouched for; CORRUPT_DATA if it is not a map. */
function map(record: RawRecord, range: readonly [number, number]): Record<string, unknown> {
  const value = part(record, range);
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new StrataError("CORRUPT_DATA", `record at offset ${record.offset} holds no map where its fields or headers belong`);
  }
  return value as Record<string, unknown>;
}

export function decodeRawRecord(record: RawRecord): LogRecord {
  const key = part(record, record.key);
  return {
    offset: record.offset,
    timestamp: record.timestamp,
    key: key instanceof Uint8Array ? key : null,
    headers: map(record, record.headers) as Headers,
    // Nil fields are a tombstone (docs/compaction.md): claimed and acked like any record.
    fields: isStoredTombstone(record) ? null : (map(record, record.fields) as Fields),
  };
}
