// `strata aggregate`: the quorum gradient aggregator as a process (docs/gradients.md). It follows a
// gradient stream and publishes each step's mean to `<stream>.mean`, printing one line per mean,
// until SIGINT or SIGTERM (exit 0) or a failure (exit 1). Restarting it is safe: steps already on
// `<stream>.mean` are skipped.
import { getLogger } from "@logtape/logtape";
import { Option, type Command } from "commander";
import { z } from "zod";
import { assertStreamName } from "../core/log/stream-name.ts";
import { GradientAggregator, type PublishedMean } from "../gateway/client.ts";
import { defineAction } from "./command.ts";
import { caFileText, caOption } from "./gateway-client.ts";
import { withGateway } from "./gateway-errors.ts";
import { tokenOption, tokenText } from "./gateway-token.ts";
import { connectionOf, gatewayOption, httpUrlText } from "./gateway-url.ts";
import { integerText } from "./option-schemas.ts";
import { writeOut } from "./stdout.ts";

const log = getLogger(["strata", "cli", "aggregate"]);

const details = `
A step's mean is published when ceil(quorum x world_size) distinct ranks contributed, or
--deadline-ms after its first contribution reached the aggregator, whichever comes first; its
headers name the contributing ranks. A contribution whose step was already published is late:
--late drop counts and drops it, --late carry adds it to the same rank's contribution of the
next step not yet published. Each mean is printed as a line (--json: a JSON object).

Example:
  strata aggregate --stream train/grads --quorum 0.8 --deadline-ms 500`;

const quorumText = z.string().transform((text, ctx) => {
  const q = Number(text);
  if (!/^\d*\.?\d+$/.test(text) || !(q > 0 && q <= 1)) {
    ctx.issues.push({ code: "custom", message: `must be a number in (0, 1], got ${text}`, input: text });
    return z.NEVER;
  }
  return q;
});

const streamText = z.string().refine((s) => {
  try {
    assertStreamName(s);
    return true;
  } catch {
    return false;
  }
}, "must be a stream name (lowercase letters, digits, . _ - and / between segments)");

function meanLine(mean: PublishedMean, json: boolean): string {
  if (json) return `${JSON.stringify({ step: mean.step, world_size: mean.worldSize, contributors: mean.contributors, carried: mean.carried, partition: mean.partition, offset: mean.offset })}\n`;
  const carried = mean.carried.length > 0 ? `, carried ${mean.carried.join(",")}` : "";
  return `step ${mean.step}: mean of ${mean.contributors.length} of ${mean.worldSize} ranks (${mean.contributors.join(",")}${carried}) at offset ${mean.offset}\n`;
}

export function registerAggregate(program: Command): void {
  const command = program
    .command("aggregate")
    .summary("publish each step's mean gradient once a quorum of ranks contributed")
    .description("Follows a gradient stream and publishes each step's mean to <stream>.mean (see below).")
    .requiredOption("--stream <S>", "the gradient stream")
    .option("--quorum <Q>", "fraction of world_size whose contributions publish a step at once, in (0, 1]", "0.8")
    .requiredOption("--deadline-ms <D>", "publish a step this long after its first contribution arrived, with whoever arrived")
    .addOption(new Option("--late <POLICY>", "a contribution after its step's mean: drop it, or carry it to the rank's next step").choices(["drop", "carry"]).default("drop"))
    .option("--from-offset <N>", "read every partition of the stream from this offset", "0")
    .option("--max-open-steps <N>", "steps collecting at once (each holds an f32 copy of the gradients); one more publishes the lowest early", "64")
    .option("--json", "print each mean as a JSON line")
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption())
    .addHelpText("after", details);
  defineAction(
    command,
    {
      args: z.tuple([]),
      opts: z.object({
        stream: streamText,
        quorum: quorumText,
        deadlineMs: integerText(0, 86_400_000),
        late: z.enum(["drop", "carry"]),
        fromOffset: integerText(0),
        maxOpenSteps: integerText(1, 1_000_000),
        json: z.boolean().default(false),
        gateway: httpUrlText,
        token: tokenText,
        ca: caFileText,
      }),
    },
    async (_args, opts) =>
      withGateway(opts.gateway, async () => {
        const lines: Promise<void>[] = [];
        const aggregator = await GradientAggregator.start({
          ...connectionOf(opts),
          stream: opts.stream,
          quorum: opts.quorum,
          deadlineMs: opts.deadlineMs,
          late: opts.late,
          fromOffset: opts.fromOffset,
          maxOpenSteps: opts.maxOpenSteps,
          onMean: (mean) => void lines.push(writeOut(meanLine(mean, opts.json))),
        });
        log.info("aggregating {stream} at quorum {quorum}, deadline {deadline} ms, late {late}", { stream: opts.stream, quorum: opts.quorum, deadline: opts.deadlineMs, late: opts.late });
        const onSignal = (): void => void aggregator.stop();
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
        try {
          await aggregator.done;
          return 0;
        } finally {
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
          await Promise.all(lines);
          log.info("stopped: {published} means published, {lateDropped} late dropped, {carried} carried, {skipped} skipped as already published", { ...aggregator.stats });
        }
      }),
  );
}
