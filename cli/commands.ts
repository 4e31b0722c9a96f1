// The command table. Add a command by importing its module here.
import { chunksCommand } from "./chunks.ts";
import type { Command } from "./command.ts";
import { consumeCommand } from "./consume.ts";
import { edgePublishCommand } from "./edge-publish.ts";
import { edgeRunCommand } from "./edge-run.ts";
import { edgeStatusCommand } from "./edge-status.ts";
import { hashCommand } from "./hash.ts";
import { publishCommand } from "./publish.ts";
import { pullCommand } from "./pull.ts";
import { pushCommand } from "./push.ts";
import { serveCommand } from "./serve.ts";
import { streamsCreateCommand, streamsGetCommand, streamsListCommand } from "./streams.ts";

export const commands: readonly Command[] = [
  serveCommand,
  streamsCreateCommand,
  streamsListCommand,
  streamsGetCommand,
  publishCommand,
  consumeCommand,
  hashCommand,
  chunksCommand,
  pushCommand,
  pullCommand,
  edgePublishCommand,
  edgeRunCommand,
  edgeStatusCommand,
];
