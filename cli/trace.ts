// `strata trace STREAM PARTITION OFFSET`: the path of a record across processing stages, read from
// the tracing headers Strata's clients store (docs/tracing.md): from the record, `strata-source`
// is followed back hop by hop, and the stages are printed oldest first with their trace and span
// ids, timestamps and the time since the previous stage.
import type { Command } from "commander";
import { z } from "zod";
import { StrataError } from "../core/errors.ts";
import { assertStreamName } from "../core/log/stream-name.ts";
import { formatSource, type RecordPosition } from "../core/trace/record-source.ts";
import { tracePath, type RecordLookup, type TracePath } from "../core/trace/trace-path.ts";
import { streamParam, type StrataClient } from "../gateway/client.ts";
import { defineAction } from "./command.ts";
import { readPage } from "./gateway-answers.ts";
import { caFileText, caOption, clientFor, expectOk } from "./gateway-client.ts";
import { withGateway } from "./gateway-errors.ts";
import { tokenOption, tokenText } from "./gateway-token.ts";
import { gatewayOption, httpUrlText } from "./gateway-url.ts";
import { integerText } from "./option-schemas.ts";
import { writeOut } from "./stdout.ts";

const DEFAULT_MAX_HOPS = 64;
const MAX_HOPS = 10_000;

const details = `
Reads the record at STREAM PARTITION OFFSET and follows its "strata-source" header (the record it
was derived from, written by publishRecords({derivedFrom}) in TypeScript and
Client.publish(derived_from=) in Python) back, hop by hop, to the record nothing was derived from.
Prints one line per stage, oldest first: the record, its trace id and span id (from its
"traceparent" header, "-" when it has none), its timestamp and the time since the previous stage
(timestamps are the appending gateway's clock). A record without tracing headers prints just
itself. A source that cannot be read (retention removed it, the stream is gone, the token may not
consume it) ends the path with a line saying so, and the command exits 1. A path longer than
--max-hops (default ${DEFAULT_MAX_HOPS}) or one that meets a record twice is an error.

--json prints {"stages": [{"stream", "partition", "offset", "timestamp", "trace_id", "span_id",
"since_previous_ms"}], "missing_source": null | {"source", "reason"}}.`;

const traceArgs = z.tuple([z.string(), integerText(0, 0xffff_ffff), integerText(0)]);

const traceOpts = z.object({
  json: z.boolean().default(false),
  maxHops: integerText(1, MAX_HOPS).default(DEFAULT_MAX_HOPS),
  gateway: httpUrlText,
  token: tokenText,
  ca: caFileText,
});

/** Codes that mean the source is not there for this caller (rather than a gateway failure). */
const MISSING_CODES = new Set(["STREAM_NOT_FOUND", "PARTITION_NOT_FOUND", "NOT_FOUND", "FORBIDDEN", "OFFSET_OUT_OF_RANGE", "INVALID_OFFSET"]);

/** The record at `position` alone, without its fields; missing when the partition does not hold that offset. */
async function readRecord(client: StrataClient, position: RecordPosition): Promise<RecordLookup> {
  try {
    const page = await expectOk(
      await client.v1.streams[":name"].partitions[":partition"].records.$get({ param: { name: streamParam(position.stream), partition: String(position.partition) }, query: { offset: String(position.offset), max_records: "1", fields: "" } }),
      readPage,
      `read ${formatSource(position)}`,
    );
    const record = page.records[0];
    if (record === undefined || record.offset !== position.offset) return { kind: "missing", reason: `partition ${position.partition} of ${position.stream} does not hold offset ${position.offset} (its end offset is ${page.end_offset})` };
    return { kind: "found", record: { stream: position.stream, partition: position.partition, offset: record.offset, timestamp: record.timestamp, headers: record.headers } };
  } catch (e) {
    if (e instanceof StrataError && MISSING_CODES.has(e.code)) return { kind: "missing", reason: `${e.code}: ${e.message}` };
    throw e;
  }
}

function textOf(path: TracePath): string {
  const rows = path.stages.map((s, i) => [String(i + 1), formatSource(s.record), s.trace?.traceId ?? "-", s.trace?.spanId ?? "-", new Date(s.record.timestamp).toISOString(), s.sincePreviousMs === undefined ? "-" : `+${s.sincePreviousMs} ms`]);
  const header = ["STAGE", "RECORD", "TRACE", "SPAN", "TIME", "SINCE PREVIOUS"];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: readonly string[]) => `${cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  ")}\n`;
  const missing = path.origin.kind === "missing" ? `source ${formatSource(path.origin.source)} of stage 1 is missing: ${path.origin.reason}\n` : "";
  return line(header) + rows.map(line).join("") + missing;
}

function jsonOf(path: TracePath): string {
  const stages = path.stages.map((s) => ({ stream: s.record.stream, partition: s.record.partition, offset: s.record.offset, timestamp: s.record.timestamp, trace_id: s.trace?.traceId ?? null, span_id: s.trace?.spanId ?? null, since_previous_ms: s.sincePreviousMs ?? null }));
  const missing = path.origin.kind === "missing" ? { source: formatSource(path.origin.source), reason: path.origin.reason } : null;
  return `${JSON.stringify({ stages, missing_source: missing })}\n`;
}

export function registerTrace(program: Command): void {
  const command = program
    .command("trace")
    .summary("show a record's path across processing stages")
    .description("Shows the path of the record at STREAM PARTITION OFFSET across processing stages, oldest first.")
    .argument("<STREAM>", "the stream of the record")
    .argument("<PARTITION>", "its partition")
    .argument("<OFFSET>", "its offset")
    .option("--max-hops <N>", `follow at most N sources back (default ${DEFAULT_MAX_HOPS}, at most ${MAX_HOPS})`)
    .option("--json", "one JSON object with the stages")
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption())
    .addHelpText("after", details);
  defineAction(command, { args: traceArgs, opts: traceOpts }, async ([stream, partition, offset], opts) =>
    withGateway(opts.gateway, async () => {
      assertStreamName(stream);
      const client = clientFor(opts.gateway, opts.token, opts.ca);
      const position = { stream, partition, offset };
      const start = await readRecord(client, position);
      if (start.kind === "missing") throw new StrataError("NOT_FOUND", `${formatSource(position)}: ${start.reason}`);
      const path = await tracePath(start.record, (source) => readRecord(client, source), opts.maxHops);
      await writeOut(opts.json ? jsonOf(path) : textOf(path));
      return path.origin.kind === "missing" ? 1 : 0;
    }),
  );
}

