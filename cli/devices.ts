// `strata devices list [--label k=v]`: the devices that reported to the gateway, with what they
// run (docs/fleet.md).
import type { Command } from "commander";
import { z } from "zod";
import { listDevices } from "../gateway/client/fleet-calls.ts";
import type { GatewayConnection } from "../gateway/client/gateway-call.ts";
import { defineAction } from "./command.ts";
import { labelPairs } from "./edge-labels.ts";
import { caFileText, caOption } from "./gateway-client.ts";
import { withGateway } from "./gateway-errors.ts";
import { tokenOption, tokenText } from "./gateway-token.ts";
import { connectionOf, gatewayOption, httpUrlText } from "./gateway-url.ts";
import { collect } from "./option-schemas.ts";
import { writeOut } from "./stdout.ts";

export const fleetClientOpts = { gateway: httpUrlText, token: tokenText, ca: caFileText };

export function fleetConnection(opts: { gateway: string; token?: string | undefined; ca?: string | undefined }): GatewayConnection {
  return connectionOf(opts);
}

export function registerDevices(program: Command): void {
  const devices = program.command("devices").summary("the edge devices that report to the gateway").description("Edge nodes report a heartbeat with each sync (docs/fleet.md).");
  const list = devices
    .command("list")
    .description("List the devices (those carrying every --label), one line each: id, last seen, labels, pins (STREAM=ARTEFACT), outbox records.")
    .option("--label <KEY=VALUE>", "only devices with this label (repeatable)", collect, [])
    .option("--json", 'print {"devices", "truncated"} as the gateway answers it')
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption());
  defineAction(list, { args: z.tuple([]), opts: z.object({ label: z.array(z.string()), json: z.boolean().default(false), ...fleetClientOpts }) }, async (_args, opts) =>
    withGateway(opts.gateway, async () => {
      const answer = await listDevices(fleetConnection(opts), labelPairs(opts.label));
      if (opts.json) {
        await writeOut(`${JSON.stringify(answer)}\n`);
        return 0;
      }
      const line = (d: (typeof answer.devices)[number]): string => {
        const labels = Object.entries(d.labels).map(([k, v]) => `${k}=${v}`).join(",") || "-";
        const pins = Object.entries(d.pins).map(([s, a]) => `${s}=${a === null ? "none" : a.slice(0, 12)}`).join(",") || "-";
        return `${d.id}\tlast_seen=${new Date(d.last_seen).toISOString()}\tlabels=${labels}\tpins=${pins}\toutbox=${d.outbox_records}\terrors=${d.errors.length}\n`;
      };
      await writeOut(answer.devices.map(line).join("") + (answer.truncated ? "(more devices: narrow with --label)\n" : ""));
      return 0;
    }),
  );
}
