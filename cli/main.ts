// `strata` — the command-line entry point: builds the command tree (cli/program.ts), runs the
// command, and turns what went wrong into a message and an exit status: 0 done, 1 failed,
// 2 called wrongly (unknown command or flag, bad value; the message says what would fit).
import { CommanderError } from "commander";
import { StrataError } from "../core/errors.ts";
import { UsageError } from "./command.ts";
import { GatewayUnreachableError } from "./gateway-errors.ts";
import { tokenAdvice } from "./gateway-token.ts";
import { buildProgram, runningCommand } from "./program.ts";

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    // commander printed the message (with the closest valid flag or command) or the help already:
    // exit 0 for help and version asked for, 2 for a mistake (or a group called without a command).
    return error.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  const name = runningCommand();
  if (error instanceof UsageError) {
    process.stderr.write(`strata ${name}: ${error.message}\n(run \`strata ${name} --help\` for usage)\n`);
    return EXIT_USAGE;
  }
  // Strata's own errors carry a stable code worth showing; an unreachable gateway says what to do instead.
  const text =
    error instanceof GatewayUnreachableError ? error.message
    : error instanceof StrataError ? `${error.code}: ${error.message}`
    : error instanceof Error ? error.message
    : String(error);
  // A refused token (401, 403) says what to do about it on a second line.
  const advice = tokenAdvice(error);
  process.stderr.write(`strata ${name}: ${text}\n${advice === null ? "" : `${advice}\n`}`);
  return EXIT_FAILED;
}

// A closed pipe (`strata chunks big.bin | head`) ends the command quietly, as for any Unix tool.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

try {
  await buildProgram().parseAsync(process.argv.slice(2), { from: "user" });
} catch (e) {
  process.exitCode = report(e);
}
