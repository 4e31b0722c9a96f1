// `strata versions STREAM`: the artefact versions of a stream, newest first, from the gateway's
// versions index (docs/versions.md): one line each with what `strata pull STREAM@REF` takes.
import type { Command } from "commander";
import { z } from "zod";
import { assertStreamName } from "../core/log/stream-name.ts";
import { DEFAULT_TRANSFER_LIMITS } from "../edge/artefacts/transfer-limits.ts";
import { listVersions, type ArtefactVersion } from "../edge/artefacts/version-select.ts";
import { defineAction } from "./command.ts";
import { caFileText, caOption } from "./gateway-client.ts";
import { withGateway } from "./gateway-errors.ts";
import { tokenOption, tokenText } from "./gateway-token.ts";
import { gatewayHttpOf, gatewayOption, httpUrlText } from "./gateway-url.ts";
import { integerText } from "./option-schemas.ts";
import { formatBytes } from "./progress-bar.ts";
import { writeOut } from "./stdout.ts";

/** Hex digits of the id a line shows: enough to pull by (at least the 8 a prefix needs). */
const SHORT_ID = 12;

const details = `
Lists the versions of STREAM (every record whose field "artefact" holds an ArtefactRef), newest
first: partition:offset, the short artefact id (the first ${SHORT_ID} of its 64 hex digits), size,
media type, the pushed file's name and the record's time. Pull one with
\`strata pull STREAM@OFFSET\` (one-partition streams), \`STREAM@PARTITION:OFFSET\` or
\`STREAM@IDPREFIX\` (8+ hex digits). The artefact id is the BLAKE3 of the manifest, not of the file
(docs/versions.md says how to check a file). --limit N lists at most N (default: all; the gateway
answers pages of its versions limit).`;

const versionsOpts = z.object({
  limit: integerText(1).optional(),
  json: z.boolean().default(false),
  gateway: httpUrlText,
  token: tokenText,
  ca: caFileText,
});

function line(v: ArtefactVersion): string {
  return `${v.partition}:${v.offset}\t${v.ref.manifest.slice(0, SHORT_ID)}\t${formatBytes(v.ref.size)}\t${v.ref.mediaType}\t${v.fileName ?? "-"}\t${new Date(v.timestamp).toISOString()}\n`;
}

function json(v: ArtefactVersion): Record<string, unknown> {
  return { partition: v.partition, offset: v.offset, artefact: v.ref.manifest, size: v.ref.size, media_type: v.ref.mediaType, file_name: v.fileName ?? null, timestamp: v.timestamp, fields: v.fields };
}

export function registerVersions(program: Command): void {
  const command = program
    .command("versions")
    .summary("list a stream's artefact versions, newest first")
    .description("Lists the artefact versions of STREAM, newest first.")
    .argument("<STREAM>", "the stream")
    .option("--limit <N>", "list at most N versions")
    .option("--json", "one JSON object per version (full artefact id, fields)")
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption())
    .addHelpText("after", details);
  defineAction(command, { args: z.tuple([z.string()]), opts: versionsOpts }, async ([stream], opts) =>
    withGateway(opts.gateway, async () => {
      assertStreamName(stream);
      const http = gatewayHttpOf(opts, { requestTimeoutMs: DEFAULT_TRANSFER_LIMITS.requestTimeoutMs, attempts: DEFAULT_TRANSFER_LIMITS.attempts });
      let left = opts.limit ?? Number.POSITIVE_INFINITY;
      let before: number | undefined;
      while (left > 0) {
        const page = await listVersions(http, stream, { ...(before !== undefined ? { before } : {}) });
        const shown = page.versions.slice(0, left);
        await writeOut(shown.map((v) => (opts.json ? `${JSON.stringify(json(v))}\n` : line(v))).join(""));
        left -= shown.length;
        if (page.nextBefore === null) break;
        before = page.nextBefore;
      }
      return 0;
    }),
  );
}
