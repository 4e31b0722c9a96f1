// `strata streams create|list|get`: stream administration. Stream descriptions print as JSON
// with ISO 8601 times; --json keeps the gateway's numbers (milliseconds since the epoch).
import type { Command } from "commander";
import { z } from "zod";
import { streamParam } from "../gateway/client.ts";
import { defineAction } from "./command.ts";
import { type StreamInfo, streamInfo, streamList } from "./gateway-answers.ts";
import { caFileText, caOption, clientFor, expectOk } from "./gateway-client.ts";
import { withGateway } from "./gateway-errors.ts";
import { tokenOption, tokenText } from "./gateway-token.ts";
import { gatewayOption, httpUrlText } from "./gateway-url.ts";
import { integerText } from "./option-schemas.ts";
import { writeOut } from "./stdout.ts";

function shown(info: StreamInfo, json: boolean): Record<string, unknown> {
  return json ? info : { ...info, created_at: new Date(info.created_at).toISOString() };
}

export function registerStreams(program: Command): void {
  const streams = program.command("streams").summary("create, list and describe streams").description("Create, list and describe streams.");

  const create = streams
    .command("create")
    .description("Create a stream.")
    .argument("<NAME>", "stream name, e.g. sensors/cam-1")
    .option("--partitions <N>", "number of partitions", "1")
    .option("--retention-ms <MS>", "drop segments older than MS milliseconds")
    .option("--retention-bytes <B>", "drop the oldest segments past B bytes per partition")
    .option("--cleanup <POLICY>", "delete (retention only, the default) or compact (keep the latest record per key)")
    .option("--tombstone-ms <MS>", "compacted streams: how long a tombstone (null fields) is kept")
    .option("--json", "print created_at as milliseconds")
    .option("-q, --quiet", "print nothing on success")
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption());
  defineAction(
    create,
    {
      args: z.tuple([z.string()]),
      opts: z.object({
        partitions: integerText(1),
        retentionMs: integerText(1).optional(),
        retentionBytes: integerText(1).optional(),
        cleanup: z.enum(["delete", "compact"], { message: "--cleanup must be delete or compact" }).optional(),
        tombstoneMs: integerText(0).optional(),
        json: z.boolean().default(false),
        quiet: z.boolean().default(false),
        gateway: httpUrlText,
        token: tokenText,
        ca: caFileText,
      }),
    },
    async ([name], opts) =>
      withGateway(opts.gateway, async () => {
        const { retentionMs: ms, retentionBytes: bytes } = opts;
        const response = await clientFor(opts.gateway, opts.token, opts.ca).v1.streams.$post({
          json: {
            name,
            partitions: opts.partitions,
            ...(ms !== undefined || bytes !== undefined ? { retention: { ...(ms !== undefined ? { ms } : {}), ...(bytes !== undefined ? { bytes } : {}) } } : {}),
            ...(opts.cleanup !== undefined ? { cleanup: opts.cleanup } : {}),
            ...(opts.tombstoneMs !== undefined ? { tombstone_ms: opts.tombstoneMs } : {}),
          },
        });
        const info = await expectOk(response, streamInfo, "create stream");
        if (!opts.quiet) await writeOut(`${JSON.stringify(shown(info, opts.json))}\n`);
        return 0;
      }),
  );

  const list = streams
    .command("list")
    .description("List streams with their records and bytes (one line each; --json: one object).")
    .option("--json", "print {\"streams\": [...]} as the gateway answers it")
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption());
  defineAction(list, { args: z.tuple([]), opts: z.object({ json: z.boolean().default(false), gateway: httpUrlText, token: tokenText, ca: caFileText }) }, async (_args, opts) =>
    withGateway(opts.gateway, async () => {
      const { streams: all } = await expectOk(await clientFor(opts.gateway, opts.token, opts.ca).v1.streams.$get(), streamList, "list streams");
      if (opts.json) {
        await writeOut(`${JSON.stringify({ streams: all })}\n`);
        return 0;
      }
      const lines = all.map((s) => {
        const records = s.partitions.reduce((n, p) => n + p.end_offset - p.start_offset, 0);
        const bytes = s.partitions.reduce((n, p) => n + p.bytes, 0);
        return `${s.name}\tpartitions=${s.partitions.length}\trecords=${records}\tbytes=${bytes}\tcreated=${new Date(s.created_at).toISOString()}\n`;
      });
      await writeOut(lines.join(""));
      return 0;
    }),
  );

  const get = streams
    .command("get")
    .description("Describe one stream: partitions with their offsets and bytes, retention, creation time.")
    .argument("<NAME>", "stream name")
    .option("--json", "print created_at as milliseconds")
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption());
  defineAction(get, { args: z.tuple([z.string()]), opts: z.object({ json: z.boolean().default(false), gateway: httpUrlText, token: tokenText, ca: caFileText }) }, async ([name], opts) =>
    withGateway(opts.gateway, async () => {
      const info = await expectOk(await clientFor(opts.gateway, opts.token, opts.ca).v1.streams[":name"].$get({ param: { name: streamParam(name) } }), streamInfo, `get stream ${name}`);
      await writeOut(`${JSON.stringify(shown(info, opts.json))}\n`);
      return 0;
    }),
  );
}
