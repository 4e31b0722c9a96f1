// One consumed record as one JSON line: {"partition", "offset", "timestamp", "key", "headers",
// "fields"}. The timestamp is ISO 8601 for people, milliseconds with --json; a key that is valid
// UTF-8 prints as a string, any other as {"$base64": ...} (the form publish --records reads back).
import { base64ToBytes } from "../core/log/json-value.ts";
import type { ReadRecord } from "./gateway-answers.ts";

export type TimeFormat = "iso" | "ms";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The key as text when its bytes are UTF-8, else as the gateway sent it. */
export function keyOf(key: ReadRecord["key"]): string | { $base64: string } | null {
  if (key === null) return null;
  try {
    return strictUtf8.decode(base64ToBytes(key.$base64));
  } catch {
    return key;
  }
}

export function recordLine(partition: number, r: ReadRecord, times: TimeFormat): string {
  return JSON.stringify({
    partition,
    offset: r.offset,
    timestamp: times === "iso" ? new Date(r.timestamp).toISOString() : r.timestamp,
    key: keyOf(r.key),
    headers: r.headers,
    fields: r.fields,
  });
}
