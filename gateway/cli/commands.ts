// The command table. Add a command by importing its module here.
import type { Command } from "./command.ts";

export const commands: readonly Command[] = [];
