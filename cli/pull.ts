// `strata pull STREAM|ARTEFACT_ID OUT`: fetches the latest artefact on a stream (or the given
// one) through the local chunk cache, verified, written to a temporary file renamed onto OUT.
import { homedir } from "node:os";
import { join } from "node:path";
import { DEFAULT_CACHE_MAX_BYTES, pullArtefact, summaryJson } from "../edge/artefacts/index.ts";
import { type Command, flag, parseArgs, UsageError } from "./command.ts";
import { gatewayUrl } from "./gateway-client.ts";
import { formatBytes, progressBar } from "./progress-bar.ts";
import { positiveIntFlag, sizeFlag } from "./size-flag.ts";

const usage = `usage: strata pull STREAM|ARTEFACT_ID OUT [--cache DIR] [--cache-size SIZE] [--concurrency N]
                   [--limit-rate SIZE] [--json] [--gateway URL]

Fetches the latest artefact on STREAM (the newest record whose field "artefact" holds an
ArtefactRef), or the artefact with the given id (64 hex characters), into OUT. Only chunks
missing from the local chunk cache are downloaded; every chunk is verified against its BLAKE3
hash; OUT is replaced atomically (temporary file, fsync, rename), so it never appears torn.
Running it again after an interruption downloads only what is still missing.
  --cache DIR        chunk cache (default $STRATA_CACHE, else ~/.cache/strata/chunks)
  --cache-size SIZE  cache bound, least recently used chunks evicted (default 8G; K/M/G suffixes)
  --concurrency N    downloads in flight (default 4)
  --limit-rate SIZE  at most SIZE chunk bytes per second (K/M/G suffixes), default unlimited
  --json             print one summary object {"artefact", "bytes_total", "bytes_transferred",
                     "chunks_total", "chunks_transferred", "seconds"} on stdout
A progress bar goes to stderr when it is a terminal.`;

export function defaultCacheDir(): string {
  return process.env.STRATA_CACHE || join(homedir(), ".cache", "strata", "chunks");
}

export const pullCommand: Command = {
  name: "pull",
  summary: "fetch the latest artefact of a stream (or one by id) through the local chunk cache",
  usage,
  async run(args) {
    const parsed = parseArgs(args, ["cache", "cache-size", "concurrency", "limit-rate", "gateway"]);
    for (const s of parsed.switches) if (s !== "json") throw new UsageError(`unknown option --${s}`);
    if (parsed.positionals.length !== 2) throw new UsageError("give a STREAM or ARTEFACT_ID and an OUT file");
    const [source, out] = parsed.positionals as [string, string];
    const concurrency = positiveIntFlag(flag(parsed, "concurrency"), "concurrency");
    const bar = progressBar("pull");
    let summary;
    try {
      summary = await pullArtefact({
        gateway: gatewayUrl(parsed),
        source,
        out,
        cacheDir: flag(parsed, "cache") ?? defaultCacheDir(),
        cacheMaxBytes: sizeFlag(flag(parsed, "cache-size"), "cache-size", DEFAULT_CACHE_MAX_BYTES),
        limits: { maxBytesPerSecond: sizeFlag(flag(parsed, "limit-rate"), "limit-rate", 0) },
        ...(concurrency !== undefined ? { concurrency } : {}),
        onProgress: (p) => bar.update(p),
      });
    } finally {
      bar.finish();
    }
    if (parsed.switches.has("json")) {
      process.stdout.write(`${JSON.stringify(summaryJson(summary))}\n`);
    } else {
      process.stdout.write(
        `pulled ${summary.artefact} (${summary.mediaType}, ${formatBytes(summary.bytesTotal)}) into ${out}: received ` +
          `${formatBytes(summary.bytesTransferred)} in ${summary.chunksTransferred} of ${summary.chunksTotal} chunks, ${summary.seconds.toFixed(2)} s\n`,
      );
    }
    return 0;
  },
};
