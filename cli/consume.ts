// `strata consume STREAM`: records as JSON lines, from every partition (or --partition P),
// starting --from earliest|latest|OFFSET|ISO-TIME, to the end of the log or with --follow on;
// with --group G as one member of a consumer group (cli/consume-group.ts); --filter EXPR on both.
import { getLogger } from "@logtape/logtape";
import type { Command } from "commander";
import { z } from "zod";
import { StrataError } from "../core/errors.ts";
import { streamParam } from "../gateway/client.ts";
import { defineAction } from "./command.ts";
import { type ReadRecord, readPage, streamInfo } from "./gateway-answers.ts";
import { caFileText, caOption, clientFor, expectOk } from "./gateway-client.ts";
import { withGateway } from "./gateway-errors.ts";
import { tokenOption, tokenText } from "./gateway-token.ts";
import { gatewayOption, httpUrlText } from "./gateway-url.ts";
import { integerText } from "./option-schemas.ts";
import { GatewayLink, type PageRequest, tailPartition, untilAnswered } from "./partition-tail.ts";
import { consumeAsGroupMember } from "./consume-group.ts";
import { recordLine } from "./record-line.ts";
import { startOffset, startPointText } from "./start-offsets.ts";
import { writeOut } from "./stdout.ts";

const log = getLogger(["strata", "cli", "consume"]);

const PAGE_RECORDS = 1000;
const LONG_POLL_MS = 10_000;

const details = `
Each line is one record: {"partition", "offset", "timestamp", "key", "headers", "fields"}, the
timestamp in ISO 8601 (milliseconds since the epoch with --json), the key as a string when it is
valid UTF-8 (else {"$base64": ...}), bytes in fields as {"$base64": ...}.

--from is one of
  earliest   the oldest record each partition still holds (the default)
  latest     only records published from now on (with --follow)
  OFFSET     that offset in each partition (moved into the partition's range if outside it)
  ISO-TIME   e.g. 2025-01-31T12:00:00Z: in each partition the first record at or after that
             time, found by a binary search over the records' timestamps (the gateway assigns
             them when it appends, so they never decrease along a partition)
Without --follow the partitions are read one after the other up to their end. With --follow
they are read together and the command keeps waiting for new records until interrupted; when
the gateway goes away (restart, crash, network) it reconnects with backoff and resumes at the
next offset, printing nothing twice.

--filter EXPR prints only the records the CEL expression accepts, e.g.
  --filter 'fields.quality_score > 0.9 && "verified" in fields.tags'
over fields, headers, key and timestamp (docs/filters.md); the gateway evaluates it, and reads
still advance past the records it skips.

--group G makes this process one member of consumer group G (docs/groups.md): the gateway assigns
it some of the stream's partitions and moves them as members join, leave or go silent past
--session-timeout; it prints the records of the partitions it owns, from the group's committed
offset (a partition the group never committed starts at --from: earliest or latest), and commits
each batch after its lines are written out (at-least-once). It follows until interrupted;
Ctrl-C or SIGTERM commits and leaves the group. --instance ID makes it a static member: restarted
within its session timeout it gets the same partitions back (and it does not leave on exit).
--partition, --max and --follow do not apply with --group.`;

const consumeOpts = z.object({
  partition: integerText(0).optional(),
  from: startPointText,
  max: integerText(1).optional(),
  fields: z.string().optional(),
  follow: z.boolean().default(false),
  json: z.boolean().default(false),
  quiet: z.boolean().default(false),
  filter: z.string().min(1).optional(),
  group: z.string().min(1).optional(),
  instance: z.string().min(1).optional(),
  sessionTimeout: integerText(1).optional(),
  gateway: httpUrlText,
  token: tokenText,
  ca: caFileText,
});

export function registerConsume(program: Command): void {
  const command = program
    .command("consume")
    .summary("print records of a stream as JSON lines")
    .description("Prints the records of STREAM as JSON lines.")
    .argument("<STREAM>", "stream name")
    .option("--partition <P>", "read only partition P (default: every partition)")
    .option("--from <WHERE>", "earliest | latest | OFFSET | ISO-TIME", "earliest")
    .option("--max <N>", "stop after N records")
    .option("--fields <a,b>", "only these fields of each record")
    .option("-f, --follow", "keep waiting for new records (reconnects across gateway restarts)")
    .option("--json", "timestamps as milliseconds since the epoch")
    .option("-q, --quiet", "no notices on stderr (reconnects), only errors")
    .option("--filter <EXPR>", "only records this CEL expression accepts (docs/filters.md)")
    .option("--group <G>", "consume as a member of consumer group G (partitions assigned by the gateway, offsets committed)")
    .option("--instance <ID>", "with --group: a static member's instance id")
    .option("--session-timeout <MS>", "with --group: silence after which the gateway moves this member's partitions (gateway default 10000)")
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption())
    .addHelpText("after", details);
  defineAction(command, { args: z.tuple([z.string()]), opts: consumeOpts }, async ([stream], opts) =>
    withGateway(opts.gateway, async () => {
      if (opts.group !== undefined) {
        if (opts.partition !== undefined || opts.max !== undefined) throw new StrataError("BAD_REQUEST", "--partition and --max do not apply with --group: the gateway assigns the partitions");
        return consumeAsGroupMember({
          gateway: opts.gateway,
          stream,
          group: opts.group,
          from: opts.from,
          json: opts.json,
          ...(opts.instance === undefined ? {} : { instance: opts.instance }),
          ...(opts.sessionTimeout === undefined ? {} : { sessionTimeoutMs: opts.sessionTimeout }),
          ...(opts.filter === undefined ? {} : { filter: opts.filter }),
          ...(opts.fields === undefined ? {} : { fields: opts.fields.split(",").filter((f) => f.length > 0) }),
          ...(opts.token === undefined ? {} : { token: opts.token }),
          ...(opts.ca === undefined ? {} : { ca: opts.ca }),
        });
      }
      if (opts.instance !== undefined || opts.sessionTimeout !== undefined) throw new StrataError("BAD_REQUEST", "--instance and --session-timeout apply only with --group");
      const client = clientFor(opts.gateway, opts.token, opts.ca);
      const name = streamParam(stream);
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        const read = async (r: PageRequest) =>
          expectOk(
            await client.v1.streams[":name"].partitions[":partition"].records.$get(
              {
                param: { name, partition: String(r.partition) },
                query: { offset: String(r.offset), max_records: String(r.maxRecords), ...(opts.fields !== undefined ? { fields: opts.fields } : {}), ...(opts.filter !== undefined ? { filter: opts.filter } : {}), ...(r.waitMs > 0 ? { wait_ms: String(r.waitMs) } : {}) },
              },
              { init: { signal: r.signal } },
            ),
            readPage,
            `read ${stream} partition ${r.partition}`,
          );
        /** The timestamp of one record, read alone and without its fields. */
        const timestampAt = async (partition: number, offset: number): Promise<number> => {
          const page = await expectOk(
            await client.v1.streams[":name"].partitions[":partition"].records.$get(
              { param: { name, partition: String(partition) }, query: { offset: String(offset), max_records: "1", max_bytes: "1", fields: "" } },
              { init: { signal: stop.signal } },
            ),
            readPage,
            `read ${stream} partition ${partition}`,
          );
          const record = page.records[0];
          if (!record || record.offset !== offset) throw new StrataError("OFFSET_OUT_OF_RANGE", `partition ${partition} has no record at offset ${offset} (removed by retention meanwhile?)`);
          return record.timestamp;
        };
        const link = new GatewayLink(opts.gateway);
        // Where each partition starts; with --follow this also waits out a gateway that is away.
        const plan = await untilAnswered(
          async () => {
            const info = await expectOk(await client.v1.streams[":name"].$get({ param: { name } }, { init: { signal: stop.signal } }), streamInfo, `get stream ${stream}`);
            const partitions = opts.partition === undefined ? info.partitions : info.partitions.filter((p) => p.partition === opts.partition);
            if (partitions.length === 0) throw new StrataError("PARTITION_NOT_FOUND", `stream ${stream} has ${info.partitions.length} partitions; there is no partition ${opts.partition}`);
            return Promise.all(partitions.map(async (p) => ({ partition: p.partition, offset: await startOffset(opts.from, p, timestampAt) })));
          },
          { follow: opts.follow, signal: stop.signal, link },
        );
        if (!plan) return 0;
        for (const p of plan) log.debug("reading partition {partition} from offset {offset}", p);

        let remaining = opts.max ?? Number.MAX_SAFE_INTEGER;
        const emit = async (partition: number, records: readonly ReadRecord[]): Promise<number> => {
          const shown = records.slice(0, remaining);
          remaining -= shown.length;
          if (shown.length > 0) await writeOut(shown.map((r) => `${recordLine(partition, r, opts.json ? "ms" : "iso")}\n`).join(""));
          if (remaining === 0) stop.abort();
          return remaining;
        };
        const tail = (start: { partition: number; offset: number }) =>
          tailPartition({ ...start, follow: opts.follow, waitMs: LONG_POLL_MS, pageRecords: PAGE_RECORDS, signal: stop.signal, link, read, emit }).catch((e: unknown) => {
            stop.abort(); // the other partitions stop too: the command has failed
            throw e;
          });
        if (opts.follow) {
          await Promise.all(plan.map(tail));
        } else {
          for (const start of plan) {
            if (stop.signal.aborted) break;
            await tail(start);
          }
        }
        return 0;
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    }),
  );
}
