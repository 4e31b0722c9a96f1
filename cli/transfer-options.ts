// Flags push and pull share: parallelism, bandwidth, the progress bar and the summary.
import type { Command } from "commander";
import { z } from "zod";
import type { ProgressListener } from "../edge/artefacts/index.ts";
import { withGateway } from "./gateway-errors.ts";
import { integerText, sizeText } from "./option-schemas.ts";
import { type Direction, progressBar } from "./progress-bar.ts";

export const transferOpts = {
  concurrency: integerText(1).optional(),
  limitRate: sizeText.optional(),
  json: z.boolean().default(false),
  progress: z.boolean().optional(),
  quiet: z.boolean().default(false),
};

export function addTransferOptions(command: Command, moved: "uploads" | "downloads"): Command {
  return command
    .option("--concurrency <N>", `${moved} in flight (default 4)`)
    .option("--limit-rate <SIZE>", "at most SIZE chunk bytes per second (K/M/G suffixes; default unlimited)")
    .option("--json", 'print one summary object {"artefact", "bytes_total", "bytes_transferred", "chunks_total", "chunks_transferred", "seconds"}')
    .option("--progress", "show the progress bar even when stderr is not a terminal")
    .option("--no-progress", "no progress bar")
    .option("-q, --quiet", "no progress bar and no summary");
}

export interface TransferFlags {
  readonly gateway: string;
  readonly progress?: boolean | undefined;
  readonly quiet: boolean;
}

/**
 * Runs a push or pull against the gateway with its progress bar: drawn when asked for
 * (--progress), or on a terminal unless told not to (--no-progress, --quiet).
 */
export async function runTransfer<T>(direction: Direction, flags: TransferFlags, work: (onProgress: ProgressListener) => Promise<T>): Promise<T> {
  const shown = !flags.quiet && flags.progress !== false;
  const bar = shown ? progressBar(direction, { forced: flags.progress === true }) : null;
  return withGateway(flags.gateway, async () => {
    try {
      return await work((p) => bar?.update(p));
    } finally {
      bar?.finish();
    }
  });
}
