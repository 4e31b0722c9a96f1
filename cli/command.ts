// How a command's action gets its input: commander has parsed the words (unknown flags and a
// wrong number of arguments are already errors), then the command's zod schemas turn them into
// typed, validated values, so no action reads an option by cast. A failed check is a UsageError
// (exit 2) naming the flag as the user typed it.
import type { Command } from "commander";
import { z } from "zod";

/** A mistake in how the command was called: printed with a pointer to --help, exit 2. */
export class UsageError extends Error {}

export interface ActionSchemas<A extends z.ZodType, O extends z.ZodType> {
  /** The positional arguments (commander's `command.args`). */
  readonly args: A;
  /** The options, with the program's global options (commander's `optsWithGlobals()`). */
  readonly opts: O;
}

/** The flag behind an option's attribute name (`retentionMs` → `--retention-ms`). */
function flagOf(command: Command, key: PropertyKey | undefined): string {
  if (typeof key !== "string") return "arguments";
  for (let c: Command | null = command; c; c = c.parent) {
    const option = c.options.find((o) => o.attributeName() === key);
    if (option) return option.long ?? option.flags;
  }
  return key;
}

function parseInput<T extends z.ZodType>(command: Command, schema: T, input: unknown, what: "args" | "opts"): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const name = what === "args" ? `argument ${issue.path.length > 0 ? String(Number(issue.path[0]) + 1) : ""}`.trim() : flagOf(command, issue.path[0]);
  throw new UsageError(`${name}: ${issue.message}`);
}

/** Sets `command`'s action: validated input in, exit code out. */
export function defineAction<A extends z.ZodType, O extends z.ZodType>(
  command: Command,
  schemas: ActionSchemas<A, O>,
  run: (args: z.output<A>, opts: z.output<O>) => Promise<number>,
): Command {
  return command.action(async () => {
    const args = parseInput(command, schemas.args, command.args, "args");
    const opts = parseInput(command, schemas.opts, command.optsWithGlobals(), "opts");
    process.exitCode = await run(args, opts);
  });
}
