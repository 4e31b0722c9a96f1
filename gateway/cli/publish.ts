import type { PublishBody } from "../client.ts";
import { streamParam } from "../client.ts";
import type { RecordPosition } from "../services/log-service.ts";
import { flag, parseArgs, UsageError, type Command } from "./command.ts";
import { clientFor, expectOk } from "./gateway-client.ts";
import { readLines } from "./read-lines.ts";

const usage = `usage: strata publish STREAM [--json '{...}'] [--records] [--key K] [--batch 1000]
                      [--acks local|durable] [--gateway URL]

Publishes records. Each line of standard input (or the one --json value) is one record's
fields as a JSON object; with --records each line is a whole record
{"key"?, "partition"?, "headers"?, "fields"}. Binary values are written {"$base64": "..."}.
Prints one {"partition", "offset"} line per record.`;

type BodyRecord = PublishBody["records"][number];

function toRecord(line: string, wholeRecords: boolean, key: string | undefined, lineNo: number): BodyRecord {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    throw new UsageError(`line ${lineNo}: not JSON: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new UsageError(`line ${lineNo}: expected a JSON object`);
  if (wholeRecords) return value as BodyRecord;
  return { fields: value as Record<string, unknown>, ...(key !== undefined ? { key } : {}) };
}

export const publishCommand: Command = {
  name: "publish",
  summary: "publish JSON records from stdin or --json",
  usage,
  async run(args) {
    const parsed = parseArgs(args, ["json", "key", "batch", "acks", "gateway"]);
    const [stream, ...extra] = parsed.positionals;
    if (!stream || extra.length > 0) throw new UsageError("give exactly one STREAM");
    const batchSize = Number(flag(parsed, "batch") ?? "1000");
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError("--batch must be a positive integer");
    const acks = flag(parsed, "acks") ?? "local";
    if (acks !== "local" && acks !== "durable") throw new UsageError("--acks must be local or durable");
    const client = clientFor(parsed);
    const wholeRecords = parsed.switches.has("records");
    const key = flag(parsed, "key");
    const send = async (records: BodyRecord[]): Promise<void> => {
      const response = await client.v1.streams[":name"].records.$post({ param: { name: streamParam(stream) }, query: { acks }, json: { records } });
      const { records: positions } = await expectOk<{ records: RecordPosition[] }>(response);
      process.stdout.write(positions.map((p) => JSON.stringify(p)).join("\n") + "\n");
    };
    const json = flag(parsed, "json");
    if (json !== undefined) {
      await send([toRecord(json, wholeRecords, key, 1)]);
      return 0;
    }
    let batch: BodyRecord[] = [];
    let lineNo = 0;
    for await (const line of readLines(process.stdin)) {
      lineNo++;
      if (line.trim() === "") continue;
      batch.push(toRecord(line, wholeRecords, key, lineNo));
      if (batch.length >= batchSize) {
        await send(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await send(batch);
    return 0;
  },
};
