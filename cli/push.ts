// `strata push FILE --stream STREAM`: uploads a file as a content-addressed artefact (only the
// chunks the gateway lacks) and publishes a record whose field `artefact` holds its ArtefactRef.
import { pushArtefact, summaryJson } from "../edge/artefacts/index.ts";
import { type Command, flag, parseArgs, UsageError } from "./command.ts";
import { gatewayUrl } from "./gateway-client.ts";
import { formatBytes, progressBar } from "./progress-bar.ts";
import { positiveIntFlag, sizeFlag } from "./size-flag.ts";

const usage = `usage: strata push FILE --stream STREAM [--fields JSON] [--media-type TYPE] [--concurrency N]
                   [--limit-rate SIZE] [--json] [--gateway URL]

Chunks and hashes FILE (FastCDC + BLAKE3; a safetensors file is cut at its header and tensor
boundaries), uploads only the chunks the gateway lacks, stores the manifest and publishes one
record on STREAM (created with one partition if missing) whose field "artefact" holds the
ArtefactRef, plus the fields of --fields (a JSON object; bytes as {"$base64": ...}).
Running it again after an interruption sends only what is still missing.
  --media-type TYPE  default application/safetensors for safetensors files, else application/octet-stream
  --concurrency N    uploads in flight (default 4)
  --limit-rate SIZE  at most SIZE chunk bytes per second (K/M/G suffixes), default unlimited
  --json             print one summary object {"artefact", "bytes_total", "bytes_transferred",
                     "chunks_total", "chunks_transferred", "seconds"} on stdout
A progress bar goes to stderr when it is a terminal.`;

function parseFields(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--fields is not JSON: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new UsageError("--fields must be a JSON object");
  return value as Record<string, unknown>;
}

export const pushCommand: Command = {
  name: "push",
  summary: "upload a file as a deduplicated artefact and publish its ref on a stream",
  usage,
  async run(args) {
    const parsed = parseArgs(args, ["stream", "fields", "media-type", "concurrency", "limit-rate", "gateway"]);
    for (const s of parsed.switches) if (s !== "json") throw new UsageError(`unknown option --${s}`);
    if (parsed.positionals.length !== 1) throw new UsageError("give exactly one FILE");
    const file = parsed.positionals[0]!;
    const stream = flag(parsed, "stream");
    if (!stream) throw new UsageError("--stream is required");
    const mediaType = flag(parsed, "media-type");
    const concurrency = positiveIntFlag(flag(parsed, "concurrency"), "concurrency");
    const bar = progressBar("push");
    let summary;
    try {
      summary = await pushArtefact({
        gateway: gatewayUrl(parsed),
        file,
        stream,
        fields: parseFields(flag(parsed, "fields")),
        ...(mediaType !== undefined ? { mediaType } : {}),
        ...(concurrency !== undefined ? { concurrency } : {}),
        limits: { maxBytesPerSecond: sizeFlag(flag(parsed, "limit-rate"), "limit-rate", 0) },
        onProgress: (p) => bar.update(p),
      });
    } finally {
      bar.finish();
    }
    if (parsed.switches.has("json")) {
      process.stdout.write(`${JSON.stringify(summaryJson(summary))}\n`);
    } else {
      process.stdout.write(
        `pushed ${file} as ${summary.artefact} (${summary.mediaType}, ${formatBytes(summary.bytesTotal)}) to ${summary.stream} ` +
          `partition ${summary.record.partition} offset ${summary.record.offset}: sent ${formatBytes(summary.bytesTransferred)} ` +
          `in ${summary.chunksTransferred} of ${summary.chunksTotal} chunks, ${summary.seconds.toFixed(2)} s\n`,
      );
    }
    return 0;
  },
};
