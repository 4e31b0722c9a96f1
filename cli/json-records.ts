// Records given on the command line, one JSON line each: a record's fields (with --key for all),
// or with --records a whole record {"key"?, "partition"?, "headers"?, "fields"}. Each line is
// checked the way its receiver will check it (decode) and measured in encoded bytes, so a bad
// line is found before it is sent and batches can be cut by size.
import { z } from "zod";
import { StrataError } from "../core/errors.ts";
import { jsonBytes } from "./gateway-answers.ts";

export const jsonRecordShape = z.object({
  key: z.union([z.string(), jsonBytes, z.null()]).optional(),
  partition: z.number().int().nonnegative().optional(),
  headers: z.record(z.string(), z.union([z.string(), jsonBytes])).optional(),
  fields: z.record(z.string(), z.unknown()),
});
export type JsonRecord = z.output<typeof jsonRecordShape>;

export interface Decoded<T> {
  readonly value: T;
  /** Encoded size, as the receiver's batch limit counts it. */
  readonly bytes: number;
}

export interface LineReading<T> {
  /** Lines are whole records (--records), not fields. */
  readonly wholeRecords: boolean;
  /** --key: the key of every fields line. */
  readonly key: string | undefined;
  /** Checks a record as the receiver will; throws StrataError when it would be refused. */
  decode(record: JsonRecord): Decoded<T>;
}

export type LineOutcome<T> =
  | { readonly kind: "record"; readonly line: number; readonly record: Decoded<T>; readonly textBytes: number }
  | { readonly kind: "bad"; readonly line: number; readonly reason: string };

const utf8 = new TextEncoder();

function shapeOf(value: unknown, reading: LineReading<unknown>): { record: JsonRecord } | { reason: string } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { reason: "expected a JSON object" };
  const candidate = reading.wholeRecords ? value : { fields: value, ...(reading.key !== undefined ? { key: reading.key } : {}) };
  const parsed = jsonRecordShape.safeParse(candidate);
  if (parsed.success) return { record: parsed.data };
  const issue = parsed.error.issues[0]!;
  return { reason: `${issue.path.length > 0 ? `${issue.path.join(".")}: ` : ""}${issue.message}` };
}

/** One line (number `line`, from 1) as a record, or why it is not one. */
export function recordOfLine<T>(text: string, line: number, reading: LineReading<T>): LineOutcome<T> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { kind: "bad", line, reason: `not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  const shaped = shapeOf(value, reading);
  if ("reason" in shaped) return { kind: "bad", line, reason: shaped.reason };
  try {
    return { kind: "record", line, record: reading.decode(shaped.record), textBytes: utf8.encode(text).length };
  } catch (e) {
    if (e instanceof StrataError) return { kind: "bad", line, reason: `${e.code}: ${e.message}` };
    throw e;
  }
}

/** The records of `lines` (blank lines skipped, numbers counting them). */
export async function* recordsOfLines<T>(lines: AsyncIterable<string>, reading: LineReading<T>): AsyncGenerator<LineOutcome<T>> {
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === "") continue;
    yield recordOfLine(text, line, reading);
  }
}
