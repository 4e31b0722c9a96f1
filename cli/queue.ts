// `strata queue work|show|list|config`: a work-queue worker that runs a command per record, the
// queues' counts, and a queue's retry policy (docs/queues.md has the model: claims, visibility,
// retries, dead letters).
import { getLogger } from "@logtape/logtape";
import type { Command } from "commander";
import { z } from "zod";
import { configureQueue, describeQueue, listQueues, type QueueConfig, type QueueConnection, type QueueInfo, work } from "../gateway/client.ts";
import { defineAction } from "./command.ts";
import { caFileText, caOption } from "./gateway-client.ts";
import { withGateway } from "./gateway-errors.ts";
import { tokenOption, tokenText } from "./gateway-token.ts";
import { connectionOf as gatewayConnectionOf, gatewayOption, httpUrlText } from "./gateway-url.ts";
import { integerText } from "./option-schemas.ts";
import { durationMsText, streamListText } from "./queue-options.ts";
import { runForRecord } from "./queue-run.ts";
import { writeOut } from "./stdout.ts";

const log = getLogger(["strata", "cli", "queue"]);

const workDetails = `
CMD runs once per claimed record with the record's JSON line on stdin (the form of
\`strata consume --json\`: {"partition", "offset", "timestamp", "key", "headers", "fields"}) and
STRATA_STREAM, STRATA_PARTITION, STRATA_OFFSET, STRATA_DELIVERIES in its environment. Its stdout
goes to ours, its stderr too. Exit 0 acks the record; any other exit nacks it with the last
non-empty line of its stderr as the error (after the queue's max_deliveries the record goes to
<stream>.dlq with that error in its strata-dlq-error header).

Streams listed first have strict priority. Nothing extends a claim: --visibility must exceed
CMD's longest run, or the record is redelivered to another worker meanwhile. SIGINT or SIGTERM
stops claiming, lets the running commands finish (their records are acked or nacked), then
exits 0. A CMD that cannot be started at all (not found, not executable) is a failure of the
worker: the record is nacked and the worker exits 1.

Example:
  strata queue work render --streams tasks/high,tasks/low --concurrency 4 -- ./render.sh`;

const connectionOpts = { gateway: httpUrlText, token: tokenText, ca: caFileText };

function connectionOf(opts: { gateway: string; token: string | undefined; ca: string | undefined }): QueueConnection {
  return gatewayConnectionOf(opts);
}

function countsText(info: QueueInfo): string {
  const t = info.totals;
  const lines = [
    `${info.group}: in_flight ${t.in_flight}, pending ${t.pending}, redelivered ${t.redelivered}, dead_lettered ${t.dead_lettered}, acked ${t.acked}`,
    `  max_deliveries ${info.config.max_deliveries}, visibility ${info.config.visibility_ms} ms, backoff ${info.config.backoff.initial_ms}..${info.config.backoff.max_ms} ms x${info.config.backoff.multiplier} (${info.config.backoff.jitter} jitter)`,
  ];
  for (const p of info.partitions) {
    lines.push(`  ${p.stream}/${p.partition}: in_flight ${p.in_flight}, pending ${p.pending}, redelivered ${p.redelivered}, dead_lettered ${p.dead_lettered}, acked ${p.acked}, cursor ${p.cursor} of ${p.end_offset}`);
  }
  return `${lines.join("\n")}\n`;
}

export function registerQueue(program: Command): void {
  const queue = program.command("queue").summary("work queues: run a command per record, show counts").description("Work queues over streams: claim, ack, nack, dead letters.");

  const workCommand = queue
    .command("work")
    .description("Claims records of GROUP's queue and runs CMD once per record (see below).")
    .argument("<GROUP>", "queue group")
    .argument("<CMD...>", "the command and its arguments, after --")
    .requiredOption("--streams <a,b>", "streams in priority order, separated by commas")
    .option("--concurrency <N>", "commands running at the same time", "1")
    .option("--visibility <DURATION>", "how long a claimed record stays invisible to others, e.g. 30s (default: the queue's)")
    .option("--filter <EXPR>", "a CEL expression: records it rejects are settled without running CMD (docs/filters.md)")
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption())
    .addHelpText("after", workDetails);
  defineAction(
    workCommand,
    {
      args: z.tuple([z.string().min(1), z.string().min(1)], z.string()),
      opts: z.object({ streams: streamListText, concurrency: integerText(1, 1024), visibility: durationMsText.optional(), filter: z.string().optional(), ...connectionOpts }),
    },
    async ([group, command, ...args], opts) =>
      withGateway(opts.gateway, async () => {
        const stop = new AbortController();
        let unstartable: string | undefined;
        const onSignal = (): void => stop.abort();
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
        try {
          const summary = await work({
            ...connectionOf(opts),
            group,
            streams: opts.streams,
            concurrency: opts.concurrency,
            signal: stop.signal,
            ...(opts.visibility === undefined ? {} : { visibilityMs: opts.visibility }),
            ...(opts.filter === undefined ? {} : { filter: opts.filter }),
            handler: async (record) => {
              const outcome = await runForRecord(command, args, record);
              if (outcome.kind === "succeeded") return;
              if (outcome.kind === "unstartable") {
                unstartable = outcome.error;
                stop.abort();
              }
              throw new Error(outcome.error);
            },
          });
          log.info("stopped: {acked} acked, {nacked} nacked, {unsettled} left to their visibility", { ...summary });
          if (unstartable !== undefined) {
            log.error("{error}", { error: unstartable });
            return 1;
          }
          return 0;
        } finally {
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
        }
      }),
  );

  const show = queue
    .command("show")
    .description("Prints GROUP's queue counts: in flight, pending, redelivered, dead-lettered, acked, in total and per partition.")
    .argument("<GROUP>", "queue group")
    .option("--json", "print the gateway's answer as JSON")
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption());
  defineAction(show, { args: z.tuple([z.string().min(1)]), opts: z.object({ json: z.boolean().default(false), ...connectionOpts }) }, async ([group], opts) =>
    withGateway(opts.gateway, async () => {
      const info = await describeQueue(connectionOf(opts), group);
      await writeOut(opts.json ? `${JSON.stringify(info)}\n` : countsText(info));
      return 0;
    }),
  );

  const config = queue
    .command("config")
    .description("Sets GROUP's retry policy (needs an admin token with --auth) and prints the resulting configuration; flags not given keep their value.")
    .argument("<GROUP>", "queue group")
    .option("--max-deliveries <N>", "deliveries before a record goes to <stream>.dlq")
    .option("--visibility <DURATION>", "the visibility of claims that name none, e.g. 30s")
    .option("--backoff-initial <DURATION>", "the first redelivery's delay, e.g. 1s")
    .option("--backoff-max <DURATION>", "the longest redelivery delay, e.g. 5m")
    .option("--backoff-multiplier <X>", "growth of the delay per delivery (1 to 100)")
    .option("--backoff-jitter <KIND>", "full | equal | none")
    .option("--json", "print the configuration as JSON")
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption());
  defineAction(
    config,
    {
      args: z.tuple([z.string().min(1)]),
      opts: z.object({
        maxDeliveries: integerText(1).optional(),
        visibility: durationMsText.optional(),
        backoffInitial: durationMsText.optional(),
        backoffMax: durationMsText.optional(),
        backoffMultiplier: z.coerce.number().min(1).max(100).optional(),
        backoffJitter: z.enum(["full", "equal", "none"]).optional(),
        json: z.boolean().default(false),
        ...connectionOpts,
      }),
    },
    async ([group], opts) =>
      withGateway(opts.gateway, async () => {
        const connection = connectionOf(opts);
        const change: { -readonly [K in keyof QueueConfig]?: QueueConfig[K] } = {};
        if (opts.maxDeliveries !== undefined) change.max_deliveries = opts.maxDeliveries;
        if (opts.visibility !== undefined) change.visibility_ms = opts.visibility;
        let result = await configureQueue(connection, group, change);
        if ([opts.backoffInitial, opts.backoffMax, opts.backoffMultiplier, opts.backoffJitter].some((v) => v !== undefined)) {
          // The gateway replaces the backoff whole: what was not given keeps the value just answered
          // (the queue's, or the defaults of a queue the first PUT created).
          const current = result.backoff;
          const backoff = {
            initial_ms: opts.backoffInitial ?? current.initial_ms,
            max_ms: opts.backoffMax ?? current.max_ms,
            multiplier: opts.backoffMultiplier ?? current.multiplier,
            jitter: opts.backoffJitter ?? current.jitter,
          };
          result = await configureQueue(connection, group, { backoff });
        }
        await writeOut(
          opts.json
            ? `${JSON.stringify({ group, config: result })}\n`
            : `${group}: max_deliveries ${result.max_deliveries}, visibility ${result.visibility_ms} ms, backoff ${result.backoff.initial_ms}..${result.backoff.max_ms} ms x${result.backoff.multiplier} (${result.backoff.jitter} jitter)\n`,
        );
        return 0;
      }),
  );

  const list = queue
    .command("list")
    .description("Lists the queue groups with the streams each has claimed from (one line each; --json: one object).")
    .option("--json", "print {\"queues\": [...]}")
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption());
  defineAction(list, { args: z.tuple([]), opts: z.object({ json: z.boolean().default(false), ...connectionOpts }) }, async (_args, opts) =>
    withGateway(opts.gateway, async () => {
      const queues = await listQueues(connectionOf(opts));
      await writeOut(opts.json ? `${JSON.stringify({ queues })}\n` : queues.map((q) => `${q.group}\t${q.streams.join(",")}\n`).join(""));
      return 0;
    }),
  );
}
