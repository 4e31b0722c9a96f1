// `strata edge publish --data DIR STREAM`: appends records to the edge node's local outbox,
// whether or not any gateway is reachable.
import type { Command } from "commander";
import { z } from "zod";
import { StrataError } from "../core/errors.ts";
import { parsePublishRequest } from "../core/log/publish-request.ts";
import { openEdge } from "../edge/index.ts";
import { DEFAULT_EDGE_LIMITS } from "../edge/limits.ts";
import { type EdgeRecord, encodeRecords } from "../edge/records.ts";
import { defineAction } from "./command.ts";
import type { Decoded, JsonRecord, LineReading } from "./json-records.ts";
import { integerText, sizeText } from "./option-schemas.ts";
import { publishLines } from "./publish-lines.ts";
import { recordInput } from "./read-lines.ts";
import { writeOut } from "./stdout.ts";

export const DEFAULT_MAX_OUTBOX = "1G";

const details = `
Appends records to the edge node's outbox in DIR (created if missing); \`strata edge run\` sends
them (a stream missing on the gateway is created with 1 partition, as by \`strata publish\`).
Each line of standard input (or the one --json value) is one record's fields as a JSON object;
with --records each line is a whole record {"key"?, "partition"?, "headers"?, "fields"}.
Binary values are written {"$base64": "..."}. Up to --batch lines (and at most the edge's
${DEFAULT_EDGE_LIMITS.maxPublishBytes} encoded bytes) are stored in one transaction and later sent as
one request; one {"outbox_seq", "records"} line is printed per batch. A bad line stops the run
after the lines before it are stored (the message gives the line to resume from; exit 1), or
with --skip-bad is skipped. --max-outbox bounds the outbox in encoded record bytes; a batch that
would pass it fails with OUTBOX_FULL and stores nothing.`;

const edgePublishOpts = z.object({
  data: z.string(),
  json: z.string().optional(),
  records: z.boolean().default(false),
  key: z.string().optional(),
  batch: integerText(1, DEFAULT_EDGE_LIMITS.maxRecordsPerPublish),
  maxOutbox: sizeText,
  skipBad: z.boolean().default(false),
  quiet: z.boolean().default(false),
});

/** A record as the edge node will check and encode it (the gateway's JSON rules, the edge's limits). */
function decodeForEdge(record: JsonRecord): Decoded<EdgeRecord> {
  const limits = { maxBatchRecords: DEFAULT_EDGE_LIMITS.maxRecordsPerPublish, maxHeaders: DEFAULT_EDGE_LIMITS.maxHeaders, maxKeyBytes: DEFAULT_EDGE_LIMITS.maxKeyBytes };
  const [value] = parsePublishRequest({ records: [record] }, "json", limits).records;
  if (!value) throw new StrataError("BAD_REQUEST", "no record");
  if (value.fields === null) throw new StrataError("BAD_REQUEST", "the edge outbox takes no tombstones (null fields)");
  const edgeRecord: EdgeRecord = { ...value, fields: value.fields };
  return { value: edgeRecord, bytes: encodeRecords([edgeRecord], DEFAULT_EDGE_LIMITS).bytes.length };
}

export function registerEdgePublish(edge: Command): void {
  const command = edge
    .command("publish")
    .description("Appends records to an edge node's local outbox (works offline).")
    .argument("<STREAM>", "stream name")
    .requiredOption("--data <DIR>", "the edge node's data directory")
    .option("--json <JSON>", "store this one record instead of reading stdin")
    .option("--records", "lines are whole records {key?, partition?, headers?, fields}, not fields")
    .option("--key <K>", "key of every record (fields lines)")
    .option("--batch <N>", "most records per transaction and request", "1000")
    .option("--max-outbox <SIZE>", "bound of the outbox in encoded record bytes (K/M/G suffixes)", DEFAULT_MAX_OUTBOX)
    .option("--skip-bad", "skip lines that are not valid records (counted on stderr) instead of stopping")
    .option("-q, --quiet", "print nothing per batch")
    .addHelpText("after", details);
  defineAction(command, { args: z.tuple([z.string()]), opts: edgePublishOpts }, async ([stream], opts) => {
    const node = await openEdge({ dataDir: opts.data, maxOutboxBytes: opts.maxOutbox });
    try {
      const reading: LineReading<EdgeRecord> = { wholeRecords: opts.records, key: opts.key, decode: decodeForEdge };
      await publishLines({
        lines: recordInput(opts.json),
        reading,
        bounds: { maxRecords: opts.batch, maxBytes: DEFAULT_EDGE_LIMITS.maxPublishBytes, maxTextBytes: Number.MAX_SAFE_INTEGER },
        skipBad: opts.skipBad,
        command: `strata edge publish --data ${opts.data} ${stream}`,
        async send(batch) {
          const { outboxSeq } = await node.publish(stream, [...batch.items]);
          if (!opts.quiet) await writeOut(`${JSON.stringify({ outbox_seq: outboxSeq, records: batch.items.length })}\n`);
        },
      });
      return 0;
    } finally {
      await node.close();
    }
  });
}
