// `strata rollout start|set|rollback|status`: staged rollouts of an artefact to the devices pinning
// a stream (docs/fleet.md). Every subcommand prints the rollout as the gateway answers it (JSON).
import type { Command } from "commander";
import { z } from "zod";
import { manifestIdSchema, rolloutIdSchema, type RolloutInfo } from "../gateway/fleet/fleet-wire.ts";
import { listRollouts, rollBackRollout, rolloutStatus, setRolloutPercent, startRollout } from "../gateway/client/fleet-calls.ts";
import { defineAction } from "./command.ts";
import { fleetClientOpts, fleetConnection } from "./devices.ts";
import { labelPairs } from "./edge-labels.ts";
import { caOption } from "./gateway-client.ts";
import { withGateway } from "./gateway-errors.ts";
import { tokenOption } from "./gateway-token.ts";
import { gatewayOption } from "./gateway-url.ts";
import { collect } from "./option-schemas.ts";
import { writeOut } from "./stdout.ts";

const percentText = z.string().regex(/^\d{1,3}(\.\d{1,2})?$/, { message: "a percentage is a number from 0 to 100 with at most two decimals" }).transform(Number);
const streamText = z.string().min(1);

function withClient<C extends Command>(command: C): C {
  return command.addOption(gatewayOption()).addOption(tokenOption()).addOption(caOption());
}

async function print(info: RolloutInfo | RolloutInfo[]): Promise<number> {
  await writeOut(`${JSON.stringify(info)}\n`);
  return 0;
}

export function registerRollout(program: Command): void {
  const rollout = program.command("rollout").summary("stage an artefact to the devices pinning a stream, and roll it back").description("Staged rollouts with stable hash buckets (docs/fleet.md).");

  const start = withClient(
    rollout
      .command("start")
      .description("Start rolling ARTEFACT out to the devices pinning STREAM: those the percentage selects (and carrying every --label) switch to it, the others keep the previous version.")
      .argument("<STREAM>", "the pinned stream")
      .argument("<ARTEFACT>", "the artefact id (64 hex digits) to roll out")
      .option("--percent <P>", "share of the matching devices, 0-100 (default 100)")
      .option("--label <KEY=VALUE>", "only devices with this label (repeatable)", collect, [])
      .option("--max-failure-percent <P>", "pause the rollout once more than P % of the selected devices failed (whole percent)")
      .option("--previous <ARTEFACT>", "what the other devices keep (default: the stream's last rollout, else what most of its devices run)"),
  );
  const startOpts = z.object({ percent: percentText.optional(), label: z.array(z.string()), maxFailurePercent: z.string().regex(/^\d{1,3}$/).transform(Number).optional(), previous: manifestIdSchema.optional(), ...fleetClientOpts });
  defineAction(start, { args: z.tuple([streamText, manifestIdSchema]), opts: startOpts }, async ([stream, artefact], opts) =>
    withGateway(opts.gateway, async () =>
      print(
        await startRollout(fleetConnection(opts), {
          stream,
          artefact,
          labels: labelPairs(opts.label),
          ...(opts.percent !== undefined ? { percent: opts.percent } : {}),
          ...(opts.maxFailurePercent !== undefined ? { max_failure_percent: opts.maxFailurePercent } : {}),
          ...(opts.previous !== undefined ? { previous: opts.previous } : {}),
        }),
      ),
    ),
  );

  const set = withClient(rollout.command("set").description("Set a rollout's percentage (raising it only adds devices); resumes a paused rollout.").argument("<ID>", "the rollout id").argument("<PERCENT>", "0-100"));
  defineAction(set, { args: z.tuple([rolloutIdSchema, percentText]), opts: z.object(fleetClientOpts) }, async ([id, percent], opts) => withGateway(opts.gateway, async () => print(await setRolloutPercent(fleetConnection(opts), id, percent))));

  const back = withClient(rollout.command("rollback").description("Return every device of the rollout to the previous version.").argument("<ID>", "the rollout id"));
  defineAction(back, { args: z.tuple([rolloutIdSchema]), opts: z.object(fleetClientOpts) }, async ([id], opts) => withGateway(opts.gateway, async () => print(await rollBackRollout(fleetConnection(opts), id))));

  const status = withClient(rollout.command("status").description("A rollout's state and how many devices run the target, the previous version, or failed; every rollout without ID.").argument("[ID]", "the rollout id"));
  defineAction(status, { args: z.tuple([rolloutIdSchema.optional()]), opts: z.object(fleetClientOpts) }, async ([id], opts) =>
    withGateway(opts.gateway, async () => print(id === undefined ? await listRollouts(fleetConnection(opts)) : await rolloutStatus(fleetConnection(opts), id))),
  );
}
