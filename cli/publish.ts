import { streamParam } from "../gateway/client.ts";
import type { RecordPosition } from "../gateway/streams/log-service.ts";
import { flag, parseArgs, UsageError, type Command } from "./command.ts";
import { clientFor, expectOk } from "./gateway-client.ts";
import { sendJsonRecords, type JsonRecord } from "./json-records.ts";

const usage = `usage: strata publish STREAM [--json '{...}'] [--records] [--key K] [--batch 1000]
                      [--acks local|durable] [--gateway URL]

Publishes records. Each line of standard input (or the one --json value) is one record's
fields as a JSON object; with --records each line is a whole record
{"key"?, "partition"?, "headers"?, "fields"}. Binary values are written {"$base64": "..."}.
Prints one {"partition", "offset"} line per record.`;

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
    const send = async (records: JsonRecord[]): Promise<void> => {
      const response = await client.v1.streams[":name"].records.$post({ param: { name: streamParam(stream) }, query: { acks }, json: { records } });
      const { records: positions } = await expectOk<{ records: RecordPosition[] }>(response);
      process.stdout.write(positions.map((p) => JSON.stringify(p)).join("\n") + "\n");
    };
    await sendJsonRecords(parsed, batchSize, send);
    return 0;
  },
};
