// `strata groups list|show`: consumer groups as the gateway coordinates them (docs/groups.md).
// Lines are tab-separated for people and `cut`; --json prints the gateway's answer as it is.
import type { Command } from "commander";
import { z } from "zod";
import { groupDescriptionSchema, groupListSchema, type GroupDescription, type TopicPartition } from "../gateway/consumers/group-wire.ts";
import { defineAction } from "./command.ts";
import { caFileText, caOption, clientFor, expectOk } from "./gateway-client.ts";
import { withGateway } from "./gateway-errors.ts";
import { tokenOption, tokenText } from "./gateway-token.ts";
import { gatewayOption, httpUrlText } from "./gateway-url.ts";
import { writeOut } from "./stdout.ts";

function partitions(list: readonly TopicPartition[]): string {
  return list.length === 0 ? "-" : list.map((p) => `${p.stream}/${p.partition}`).join(",");
}

/** A group as lines: its epoch, one line per member, one line per partition with its lag. */
export function groupText(g: GroupDescription): string {
  const lines = [`group ${g.group}\tepoch=${g.group_epoch}\tmembers=${g.members.length}`];
  for (const m of g.members) {
    lines.push(
      `member ${m.member}\tinstance=${m.instance ?? "-"}\tepoch=${m.member_epoch}\tstate=${m.state}\tlast_heartbeat=${new Date(m.last_heartbeat).toISOString()}\tassigned=${partitions(m.assignment)}` +
        (m.revoking.length > 0 ? `\trevoking=${partitions(m.revoking)}` : ""),
    );
  }
  for (const p of g.partitions) lines.push(`partition ${p.stream}/${p.partition}\tcommitted=${p.committed ?? "-"}\tend=${p.end_offset}\tlag=${p.lag}`);
  return `${lines.join("\n")}\n`;
}

const clientOpts = { json: z.boolean().default(false), gateway: httpUrlText, token: tokenText, ca: caFileText };

export function registerGroups(program: Command): void {
  const groups = program.command("groups").summary("list and describe consumer groups").description("List consumer groups and show their members, assignments and lag.");

  const list = groups
    .command("list")
    .description("List groups (one line each: members, epoch, streams; --json: one object).")
    .option("--json", 'print {"groups": [...]} as the gateway answers it')
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption());
  defineAction(list, { args: z.tuple([]), opts: z.object(clientOpts) }, async (_args, opts) =>
    withGateway(opts.gateway, async () => {
      const answer = await expectOk(await clientFor(opts.gateway, opts.token, opts.ca).v1.groups.$get(), groupListSchema, "list groups");
      if (opts.json) {
        await writeOut(`${JSON.stringify(answer)}\n`);
        return 0;
      }
      await writeOut(answer.groups.map((g) => `${g.group}\tmembers=${g.members}\tepoch=${g.group_epoch}\tstreams=${g.streams.join(",") || "-"}\n`).join(""));
      return 0;
    }),
  );

  const show = groups
    .command("show")
    .description("Show a group: members with their epoch, state and assignment, and per partition the committed offset, end offset and lag.")
    .argument("<GROUP>", "group name")
    .option("--json", "print the gateway's answer as it is")
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption());
  defineAction(show, { args: z.tuple([z.string()]), opts: z.object(clientOpts) }, async ([group], opts) =>
    withGateway(opts.gateway, async () => {
      const answer = await expectOk(await clientFor(opts.gateway, opts.token, opts.ca).v1.groups[":group"].$get({ param: { group: encodeURIComponent(group) } }), groupDescriptionSchema, `show group ${group}`);
      await writeOut(opts.json ? `${JSON.stringify(answer)}\n` : groupText(answer));
      return 0;
    }),
  );
}
