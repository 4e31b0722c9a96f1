// `strata edge publish --data DIR STREAM`: appends records to the edge node's local outbox,
// whether or not any gateway is reachable.
import { parsePublishRequest } from "../core/log/publish-request.ts";
import { openEdge } from "../edge/index.ts";
import { DEFAULT_EDGE_LIMITS } from "../edge/limits.ts";
import type { EdgeRecord } from "../edge/records.ts";
import { flag, parseArgs, UsageError, type Command } from "./command.ts";
import { sendJsonRecords } from "./json-records.ts";
import { positiveIntFlag, sizeFlag } from "./size-flag.ts";

export const DEFAULT_MAX_OUTBOX = "1G";

const usage = `usage: strata edge publish --data DIR STREAM [--json '{...}'] [--records] [--key K]
                          [--batch 1000] [--max-outbox 1G]

Appends records to the edge node's outbox in DIR (created if missing); \`strata edge run\` sends
them. Each line of standard input (or the one --json value) is one record's fields as a JSON
object; with --records each line is a whole record {"key"?, "partition"?, "headers"?, "fields"}.
Binary values are written {"$base64": "..."}. Every --batch lines are stored in one transaction
and sent as one request; one {"outbox_seq", "records"} line is printed per batch.
  --max-outbox SIZE  bound of the outbox in encoded record bytes (K/M/G suffixes, default 1G);
                     a batch that would pass it fails with OUTBOX_FULL and stores nothing`;

/** JSON records → validated records (tagged $base64/$tensor/$artefact values decoded), as the gateway reads JSON. */
function fromJson(records: unknown[]): EdgeRecord[] {
  return parsePublishRequest({ records }, "json", { maxBatchRecords: DEFAULT_EDGE_LIMITS.maxRecordsPerPublish, maxHeaders: DEFAULT_EDGE_LIMITS.maxHeaders, maxKeyBytes: DEFAULT_EDGE_LIMITS.maxKeyBytes }).records;
}

export const edgePublishCommand: Command = {
  name: "edge publish",
  summary: "append records to an edge node's local outbox (works offline)",
  usage,
  async run(args) {
    const parsed = parseArgs(args, ["data", "json", "key", "batch", "max-outbox"]);
    for (const s of parsed.switches) if (s !== "records") throw new UsageError(`unknown option --${s}`);
    const dataDir = flag(parsed, "data");
    if (!dataDir) throw new UsageError("give --data DIR");
    const [stream, ...extra] = parsed.positionals;
    if (!stream || extra.length > 0) throw new UsageError("give exactly one STREAM");
    const batchSize = positiveIntFlag(flag(parsed, "batch"), "batch") ?? 1000;
    if (batchSize > DEFAULT_EDGE_LIMITS.maxRecordsPerPublish) throw new UsageError(`--batch must be at most ${DEFAULT_EDGE_LIMITS.maxRecordsPerPublish}`);
    const maxOutboxBytes = sizeFlag(flag(parsed, "max-outbox"), "max-outbox", sizeFlag(DEFAULT_MAX_OUTBOX, "max-outbox", 0));
    const edge = await openEdge({ dataDir, maxOutboxBytes });
    try {
      const send = async (records: unknown[]): Promise<void> => {
        const { outboxSeq } = await edge.publish(stream, fromJson(records));
        process.stdout.write(`${JSON.stringify({ outbox_seq: outboxSeq, records: records.length })}\n`);
      };
      await sendJsonRecords(parsed, batchSize, send);
      return 0;
    } finally {
      await edge.close();
    }
  },
};
