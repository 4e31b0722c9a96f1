// `strata publish STREAM`: JSON lines from stdin (or one --json record) to the gateway, in
// batches cut by count and by bytes under the gateway's batch limit.
import { getLogger } from "@logtape/logtape";
import { type Command, Option } from "commander";
import { z } from "zod";
import { StrataError } from "../core/errors.ts";
import { BATCH_HEADER_SIZE, encodeRecordShared } from "../core/log/batch.ts";
import { parsePublishRequest } from "../core/log/publish-request.ts";
import { AUTO_CREATED_PARTITIONS, ensureStream } from "../edge/artefacts/stream-api.ts";
import { publishRecords } from "../gateway/client.ts";
import { DEFAULT_STORAGE_LIMITS } from "../gateway/log/storage-limits.ts";
import { DEFAULT_SERVICE_LIMITS } from "../gateway/streams/service-limits.ts";
import { defineAction } from "./command.ts";
import { caFileText, caOption } from "./gateway-client.ts";
import { explainUnreachable } from "./gateway-errors.ts";
import { tokenOption, tokenText } from "./gateway-token.ts";
import { connectionOf, gatewayHttpOf, gatewayOption, httpUrlText } from "./gateway-url.ts";
import type { Decoded, JsonRecord, LineReading } from "./json-records.ts";
import { integerText, sizeText } from "./option-schemas.ts";
import { publishLines } from "./publish-lines.ts";
import { recordInput } from "./read-lines.ts";
import { writeOut } from "./stdout.ts";

const log = getLogger(["strata", "cli", "publish"]);

/** Encoded records per request: the gateway's batch limit less the batch header. */
export const DEFAULT_BATCH_BYTES = DEFAULT_STORAGE_LIMITS.maxBatchBytes - BATCH_HEADER_SIZE;
/** JSON text per request: the gateway's body limit less room for the envelope. */
const MAX_TEXT_BYTES = DEFAULT_SERVICE_LIMITS.maxRequestBytes - 64 * 1024;
const CREATE_TIMEOUT_MS = 30_000;

const details = `
Each line of standard input (or the one --json value) is one record's fields as a JSON object;
with --records each line is a whole record {"key"?, "partition"?, "headers"?, "fields"} (the
lines \`strata consume --json\` prints fit). Binary values are written {"$base64": "..."}.
Prints one {"partition", "offset"} line per record.

Records go in batches of at most --batch records and --batch-bytes encoded bytes (default: the
gateway's batch limit, ${DEFAULT_BATCH_BYTES} bytes), so large records need no tuning. A line that
is not a valid record stops the run after the lines before it are published: the message says
how many records were published and the line to resume from (exit 1). --skip-bad skips such
lines instead, counting them on stderr.

A stream that does not exist is created on the first write with ${AUTO_CREATED_PARTITIONS} partition and default
retention: the same rule for publish, push and edge nodes. Create it with \`strata streams create\`
first to choose partitions and retention; --no-create makes a missing stream an error
(STREAM_NOT_FOUND).`;

const publishOpts = z.object({
  json: z.string().optional(),
  records: z.boolean().default(false),
  key: z.string().optional(),
  batch: integerText(1, DEFAULT_SERVICE_LIMITS.maxBatchRecords),
  batchBytes: sizeText,
  acks: z.enum(["local", "durable"]),
  skipBad: z.boolean().default(false),
  create: z.boolean(),
  quiet: z.boolean().default(false),
  gateway: httpUrlText,
  token: tokenText,
  ca: caFileText,
});

/** A record as the gateway will check it, measured in the encoding its batch limit counts. */
function decodeForGateway(record: JsonRecord): Decoded<JsonRecord> {
  const [input] = parsePublishRequest({ records: [record] }, "json", DEFAULT_SERVICE_LIMITS).records;
  if (!input) throw new StrataError("BAD_REQUEST", "no record");
  const bytes = encodeRecordShared({ timestamp: 0, key: input.key, headers: input.headers, fields: input.fields }, 0).length;
  if (bytes > DEFAULT_SERVICE_LIMITS.maxRecordBytes) {
    throw new StrataError("RECORD_TOO_LARGE", `the record encodes to ${bytes} bytes; the gateway's limit is ${DEFAULT_SERVICE_LIMITS.maxRecordBytes}`);
  }
  return { value: record, bytes };
}

export function registerPublish(program: Command): void {
  const command = program
    .command("publish")
    .summary("publish JSON records from stdin or --json")
    .description("Publishes records to STREAM.")
    .argument("<STREAM>", "stream name")
    .option("--json <JSON>", "publish this one record instead of reading stdin")
    .option("--records", "lines are whole records {key?, partition?, headers?, fields}, not fields")
    .option("--key <K>", "key of every record (fields lines)")
    .option("--batch <N>", "most records per request", "1000")
    .option("--batch-bytes <SIZE>", "most encoded bytes per request (K/M suffixes)", String(DEFAULT_BATCH_BYTES))
    .addOption(new Option("--acks <WHEN>", "answer after the WAL fsync (local) or once in the object store (durable)").choices(["local", "durable"]).default("local"))
    .option("--skip-bad", "skip lines that are not valid records (counted on stderr) instead of stopping")
    .option("--no-create", "fail with STREAM_NOT_FOUND instead of creating a missing stream")
    .option("-q, --quiet", "print no positions")
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption())
    .addHelpText("after", details);
  defineAction(command, { args: z.tuple([z.string()]), opts: publishOpts }, async ([stream], opts) => {
    const connection = connectionOf(opts);
    const reading: LineReading<JsonRecord> = { wholeRecords: opts.records, key: opts.key, decode: decodeForGateway };
    let createTried = false;
    // The lines were checked by decodeForGateway; publishRecords sends them as a client-built batch
    // when they go to one partition, as MessagePack otherwise (gateway/client/record-publish.ts).
    const limits = { ...DEFAULT_SERVICE_LIMITS, maxBatchRecords: opts.batch };
    const post = async (records: readonly JsonRecord[]) => ({
      records: await publishRecords(connection, stream, parsePublishRequest({ records: [...records] }, "json", limits).records, { acks: opts.acks }),
    });
    const send = async (records: readonly JsonRecord[]) => {
      try {
        return await post(records);
      } catch (e) {
        if (!(e instanceof StrataError && e.code === "STREAM_NOT_FOUND" && opts.create && !createTried)) throw e;
        createTried = true;
        if (await ensureStream(gatewayHttpOf(opts, { requestTimeoutMs: CREATE_TIMEOUT_MS, attempts: 1 }), stream)) {
          log.info("created stream {stream} ({partitions} partition, default retention)", { stream, partitions: AUTO_CREATED_PARTITIONS });
        }
        return await post(records);
      }
    };
    await publishLines({
      lines: recordInput(opts.json),
      reading,
      bounds: { maxRecords: opts.batch, maxBytes: opts.batchBytes, maxTextBytes: MAX_TEXT_BYTES },
      skipBad: opts.skipBad,
      command: `strata publish ${stream}`,
      async send(batch) {
        let answer;
        try {
          answer = await send(batch.items);
        } catch (e) {
          throw explainUnreachable(opts.gateway, e);
        }
        if (!opts.quiet) await writeOut(answer.records.map((p) => `${JSON.stringify(p)}\n`).join(""));
      },
    });
    return 0;
  });
}
