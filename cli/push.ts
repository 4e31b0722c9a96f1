// `strata push FILE --stream STREAM`: uploads a file as a content-addressed artefact (only the
// chunks the gateway lacks) and publishes a record whose field `artefact` holds its ArtefactRef
// and `file_name` the file's base name.
import { basename } from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { pushArtefact, summaryJson } from "../edge/artefacts/index.ts";
import { FILE_NAME_FIELD } from "../edge/artefacts/artefact-field.ts";
import { defineAction } from "./command.ts";
import { caFileText, caOption } from "./gateway-client.ts";
import { tokenOption, tokenText } from "./gateway-token.ts";
import { gatewayOption, singleHttpUrlText } from "./gateway-url.ts";
import { formatBytes } from "./progress-bar.ts";
import { writeOut } from "./stdout.ts";
import { addTransferOptions, runTransfer, transferOpts } from "./transfer-options.ts";

const details = `
Chunks and hashes FILE (FastCDC + BLAKE3; a safetensors file is cut at its header and tensor
boundaries), uploads only the chunks the gateway lacks, stores the manifest and publishes one
record on STREAM whose field "artefact" holds the ArtefactRef and "file_name" the base name of
FILE (what \`strata pull STREAM DIR/\` names the file), plus the fields of --fields (a JSON object;
bytes as {"$base64": ...}). Running it again after an interruption sends only what is still
missing. When STREAM's latest version already is this artefact (same content, chunking and media
type), nothing is published and the existing version is named; --force publishes it again.
A missing STREAM is created with 1 partition (see \`strata publish --help\`).
The progress bar (stderr, on a terminal) shows the bytes sent of those the gateway lacks, the
rate and the time left.`;

const fieldsText = z.string().transform((text, ctx) => {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    ctx.issues.push({ code: "custom", message: `is not JSON: ${e instanceof Error ? e.message : String(e)}`, input: text });
    return z.NEVER;
  }
  const fields = z.record(z.string(), z.unknown()).safeParse(value);
  if (!fields.success || Array.isArray(value)) {
    ctx.issues.push({ code: "custom", message: "must be a JSON object", input: text });
    return z.NEVER;
  }
  return fields.data;
});

const pushOpts = z.object({
  stream: z.string(),
  fields: fieldsText.optional(),
  mediaType: z.string().optional(),
  create: z.boolean(),
  force: z.boolean().default(false),
  gateway: singleHttpUrlText,
  token: tokenText,
  ca: caFileText,
  ...transferOpts,
});

export function registerPush(program: Command): void {
  const command = program
    .command("push")
    .summary("upload a file as a deduplicated artefact and publish its ref on a stream")
    .description("Uploads FILE as a content-addressed artefact and publishes its ref on STREAM.")
    .argument("<FILE>", "the file to upload")
    .requiredOption("--stream <STREAM>", "stream to publish the artefact's record on")
    .option("--fields <JSON>", "more fields of the record, a JSON object")
    .option("--media-type <TYPE>", "default application/safetensors for safetensors files, else application/octet-stream")
    .option("--no-create", "fail with STREAM_NOT_FOUND instead of creating a missing stream")
    .option("--force", "publish a new version even when the latest version is this same artefact");
  addTransferOptions(command, "uploads").addOption(gatewayOption()).addOption(tokenOption()).addOption(caOption()).addHelpText("after", details);
  defineAction(command, { args: z.tuple([z.string()]), opts: pushOpts }, async ([file], opts) => {
    const fields = opts.fields ?? {};
    const summary = await runTransfer("push", opts, (onProgress) =>
      pushArtefact({
        gateway: opts.gateway,
        ...(opts.token !== undefined ? { token: opts.token } : {}),
        ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
        file,
        stream: opts.stream,
        fields,
        // --fields may name the file itself; otherwise the pushed file's own name.
        ...(Object.hasOwn(fields, FILE_NAME_FIELD) ? {} : { fileName: basename(file) }),
        createStream: opts.create,
        force: opts.force,
        ...(opts.mediaType !== undefined ? { mediaType: opts.mediaType } : {}),
        ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
        limits: { maxBytesPerSecond: opts.limitRate ?? 0 },
        onProgress,
      }),
    );
    if (opts.json) {
      await writeOut(`${JSON.stringify({ ...summaryJson(summary), published: summary.published, partition: summary.record.partition, offset: summary.record.offset })}\n`);
    } else if (!summary.published) {
      if (!opts.quiet) {
        await writeOut(
          `${summary.stream}'s latest version already is ${summary.artefact} (partition ${summary.record.partition} offset ${summary.record.offset}): ` +
            `nothing published (--force publishes it again)\n`,
        );
      }
    } else if (!opts.quiet) {
      await writeOut(
        `pushed ${file} as ${summary.artefact} (${summary.mediaType}, ${formatBytes(summary.bytesTotal)}) to ${summary.stream} ` +
          `partition ${summary.record.partition} offset ${summary.record.offset}: sent ${formatBytes(summary.bytesTransferred)} ` +
          `in ${summary.chunksTransferred} of ${summary.chunksTotal} chunks, ${summary.seconds.toFixed(2)} s\n`,
      );
    }
    return 0;
  });
}
