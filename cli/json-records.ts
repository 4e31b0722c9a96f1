// Records given on the command line: the one `--json` value, or JSON lines on standard input,
// each a record's fields (or with `--records` a whole record), sent in batches.
import type { PublishBody } from "../gateway/client.ts";
import { flag, UsageError, type ParsedArgs } from "./command.ts";
import { readLines } from "./read-lines.ts";

export type JsonRecord = PublishBody["records"][number];

function recordOf(line: string, wholeRecords: boolean, key: string | undefined, lineNo: number): JsonRecord {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    throw new UsageError(`line ${lineNo}: not JSON: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new UsageError(`line ${lineNo}: expected a JSON object`);
  if (wholeRecords) return value as JsonRecord;
  return { fields: value as Record<string, unknown>, ...(key !== undefined ? { key } : {}) };
}

/** Calls `send` with the `--json` record, or with stdin's records `batchSize` at a time. */
export async function sendJsonRecords(parsed: ParsedArgs, batchSize: number, send: (records: JsonRecord[]) => Promise<void>): Promise<void> {
  const wholeRecords = parsed.switches.has("records");
  const key = flag(parsed, "key");
  const json = flag(parsed, "json");
  if (json !== undefined) return send([recordOf(json, wholeRecords, key, 1)]);
  let batch: JsonRecord[] = [];
  let lineNo = 0;
  for await (const line of readLines(process.stdin)) {
    lineNo++;
    if (line.trim() === "") continue;
    batch.push(recordOf(line, wholeRecords, key, lineNo));
    if (batch.length >= batchSize) {
      await send(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await send(batch);
}
