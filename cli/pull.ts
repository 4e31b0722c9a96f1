// `strata pull STREAM[@REF]|ARTEFACT_ID OUT`: fetches the latest artefact on a stream (or the given
// one) through the local chunk cache, verified, written to a temporary file renamed onto OUT;
// OUT may be a directory (the file keeps the name it was pushed under) or `-` for stdout.
import { createReadStream, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { z } from "zod";
import { pullArtefact, summaryJson } from "../edge/artefacts/index.ts";
import type { PullSummary } from "../edge/artefacts/pull.ts";
import { ucxPullSource, type UcxPullSource } from "../edge/transports/ucx-pull.ts";
import { defineAction } from "./command.ts";
import { caFileText, caOption } from "./gateway-client.ts";
import { tokenOption, tokenText } from "./gateway-token.ts";
import { gatewayOption, singleHttpUrlText } from "./gateway-url.ts";
import { collect, sizeText } from "./option-schemas.ts";
import { formatBytes } from "./progress-bar.ts";
import { writeTo } from "./stdout.ts";
import { addTransferOptions, runTransfer, transferOpts } from "./transfer-options.ts";

const STDOUT = "-";

const details = `
Fetches the latest artefact on STREAM (the newest record whose field "artefact" holds an
ArtefactRef), one version of it with STREAM@REF, or the artefact with the given id (64 hex
characters), into OUT. REF (see \`strata versions STREAM\`) is latest, PARTITION:OFFSET, OFFSET
(one-partition streams) or at least 8 hex digits of the artefact id (refused as AMBIGUOUS_ID when
they match two artefacts):
  FILE   written as FILE; missing parent directories are created
  DIR/   (an existing directory, or any path ending in /) the file DIR/NAME, NAME being the
         name it was pushed under (the record's "file_name"), else the artefact id
  -      standard output (staged in a temporary file first: chunks arrive out of order)
Only chunks missing from the local chunk cache are downloaded; every chunk is verified against
its BLAKE3 hash; OUT is replaced atomically (temporary file, fsync, rename), so it never
appears torn. Running it again after an interruption downloads only what is still missing.

--tensors GLOB (repeatable; * any characters, ? one) writes a safetensors file of only the
tensors of a safetensors artefact whose names match any GLOB: header rewritten with their
offsets recomputed, __metadata__ kept; only the chunks holding the header or their bytes move.

--via ucx://HOST:PORT fetches the chunks over UCX from a gateway serving --ucx-port (RDMA, shared
memory or TCP; docs/native.md); manifests still come from --gateway. If the UCX connection cannot
be made or dies, the pull says so on stderr and continues over HTTP.`;

const pullOpts = z.object({
  cache: z.string(),
  cacheSize: sizeText,
  gateway: singleHttpUrlText,
  token: tokenText,
  ca: caFileText,
  via: z.string().regex(/^ucx:\/\//, { message: "--via takes ucx://HOST:PORT" }).optional(),
  tensors: z.array(z.string()).default([]),
  ...transferOpts,
});

export function defaultCacheDir(): string {
  return process.env.STRATA_CACHE || join(homedir(), ".cache", "strata", "chunks");
}

function summaryText(summary: PullSummary, into: string): string {
  return (
    `pulled ${summary.artefact} (${summary.mediaType}, ${formatBytes(summary.bytesTotal)}) into ${into}: received ` +
    `${formatBytes(summary.bytesTransferred)} in ${summary.chunksTransferred} of ${summary.chunksTotal} chunks, ${summary.seconds.toFixed(2)} s\n`
  );
}

export function registerPull(program: Command): void {
  const command = program
    .command("pull")
    .summary("fetch the latest artefact of a stream (or one by id) through the local chunk cache")
    .description("Fetches an artefact into OUT (a file, a directory, or - for stdout).")
    .argument("<SOURCE>", "a stream (its latest artefact), STREAM@latest|@OFFSET|@P:OFFSET|@IDPREFIX, or an artefact id")
    .argument("<OUT>", "a file, a directory, or - for standard output")
    .option("--cache <DIR>", "chunk cache (default $STRATA_CACHE, else ~/.cache/strata/chunks)", defaultCacheDir())
    .option("--cache-size <SIZE>", "cache bound, least recently used chunks evicted (K/M/G suffixes)", "8G")
    .option("--via <URL>", "fetch chunks over UCX from ucx://HOST:PORT (the gateway's --ucx-port), HTTP as fallback")
    .option("--tensors <GLOB>", "only the tensors whose names match (repeatable): a smaller safetensors file", collect, []);
  addTransferOptions(command, "downloads").addOption(gatewayOption()).addOption(tokenOption()).addOption(caOption()).addHelpText("after", details);
  defineAction(command, { args: z.tuple([z.string(), z.string()]), opts: pullOpts }, async ([source, out], opts) => {
    const toStdout = out === STDOUT;
    // Chunks arrive in any order, so standard output is fed from a finished file.
    const staging = toStdout ? mkdtempSync(join(tmpdir(), "strata-pull-")) : null;
    // Missing directories are created, like `curl --create-dirs`: a DIR/ itself, else OUT's parent.
    if (!toStdout) mkdirSync(/[/\\]$/.test(out) ? out : dirname(out), { recursive: true });
    const ucx: UcxPullSource | undefined =
      opts.via === undefined
        ? undefined
        : ucxPullSource({ via: opts.via, gateway: opts.gateway, token: opts.token, ca: opts.ca, onFallback: (message) => process.stderr.write(`strata pull: ${message}\n`) });
    try {
      const summary = await runTransfer("pull", opts, (onProgress) =>
        pullArtefact({
          ...(ucx !== undefined ? { chunkSource: ucx.source } : {}),
          gateway: opts.gateway,
          ...(opts.token !== undefined ? { token: opts.token } : {}),
          ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
          source,
          ...(opts.tensors.length > 0 ? { tensors: opts.tensors } : {}),
          out: staging ? join(staging, "artefact") : out,
          cacheDir: opts.cache,
          cacheMaxBytes: opts.cacheSize,
          limits: { maxBytesPerSecond: opts.limitRate ?? 0 },
          ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
          onProgress,
        }),
      );
      if (toStdout) await pipeline(createReadStream(summary.out), process.stdout, { end: false });
      // With OUT "-", stdout carries the artefact: the summary goes to stderr.
      const report = toStdout ? process.stderr : process.stdout;
      if (opts.json) await writeTo(report, `${JSON.stringify(summaryJson(summary))}\n`);
      else if (!opts.quiet) await writeTo(report, summaryText(summary, toStdout ? "standard output" : summary.out));
      return 0;
    } finally {
      await ucx?.close();
      if (staging) rmSync(staging, { recursive: true, force: true });
    }
  });
}
