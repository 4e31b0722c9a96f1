// The `strata` command tree on commander: every command and group takes --help, unknown flags
// and commands are errors that name the closest valid one, `strata --version` prints the
// package's version. Each command module registers itself on its parent.
import { Command } from "commander";
import { z } from "zod";
import { registerAggregate } from "./aggregate.ts";
import { registerCheckpoints } from "./checkpoints.ts";
import { registerChunks } from "./chunks.ts";
import { registerCluster } from "./cluster.ts";
import { registerConsume } from "./consume.ts";
import { registerDatasets } from "./datasets.ts";
import { registerEdge } from "./edge.ts";
import { registerDevices } from "./devices.ts";
import { registerRollout } from "./rollout.ts";
import { registerGroups } from "./groups.ts";
import { registerHash } from "./hash.ts";
import { configureLogging, logFormatOption, logFormatText, logLevelOption, logLevelText } from "./logging.ts";
import { registerPublish } from "./publish.ts";
import { registerPull } from "./pull.ts";
import { registerPush } from "./push.ts";
import { registerVersions } from "./versions.ts";
import { registerQueue } from "./queue.ts";
import { registerServe } from "./serve.ts";
import { registerStreams } from "./streams.ts";
import { registerTokens } from "./tokens.ts";
import { registerTrace } from "./trace.ts";
import { VERSION } from "./version.ts";

const loggingOpts = z.object({ logLevel: logLevelText, logFormat: logFormatText, quiet: z.boolean().optional() });

let running = "";

/** The words of the command being run ("streams create"), for messages. */
export function runningCommand(): string {
  return running;
}

function pathOf(command: Command): string {
  const words: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) words.unshift(c.name());
  return words.join(" ");
}

export function buildProgram(): Command {
  const program = new Command("strata")
    .description("Strata: one log for AI data from edge devices to object storage")
    .version(VERSION, "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    // Set before any subcommand exists: commander copies these settings into each one.
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true })
    .hook("preAction", async (_program, action) => {
      running = pathOf(action);
      const opts = loggingOpts.parse(action.optsWithGlobals());
      await configureLogging(opts.quiet ? "error" : opts.logLevel, opts.logFormat);
    });
  running = "";
  registerServe(program);
  registerStreams(program);
  registerTokens(program);
  registerPublish(program);
  registerConsume(program);
  registerQueue(program);
  registerGroups(program);
  registerDatasets(program);
  registerCheckpoints(program);
  registerAggregate(program);
  registerPush(program);
  registerPull(program);
  registerVersions(program);
  registerHash(program);
  registerChunks(program);
  registerEdge(program);
  registerDevices(program);
  registerRollout(program);
  registerCluster(program);
  registerTrace(program);
  return program;
}
