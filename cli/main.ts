// `strata` — the command-line entry point. Each command lives in its own module.
import { StrataError } from "../core/errors.ts";
import { UsageError, type Command } from "./command.ts";
import { commands } from "./commands.ts";

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "strata — edge-to-cloud sync gateway for AI data",
    "",
    "usage: strata <command> [options]   (strata <command> --help for its options)",
    "",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join("\n");
}

function find(args: string[]): { command: Command; rest: string[] } | undefined {
  // Longest match first, so "streams create" wins over "streams".
  for (let words = 2; words >= 1; words--) {
    const name = args.slice(0, words).join(" ");
    const command = commands.find((c) => c.name === name);
    if (command) return { command, rest: args.slice(words) };
  }
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    console.log(help());
    return argv.length === 0 ? 2 : 0;
  }
  const found = find(argv);
  if (!found) {
    console.error(`strata: unknown command '${argv.slice(0, 2).join(" ")}'\n\n${help()}`);
    return 2;
  }
  if (found.rest.includes("--help") || found.rest.includes("-h")) {
    console.log(found.command.usage);
    return 0;
  }
  try {
    return await found.command.run(found.rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`strata ${found.command.name}: ${e.message}\n\n${found.command.usage}`);
      return 2;
    }
    // Strata's own errors carry a stable code worth showing; system errors already name theirs.
    const prefix = e instanceof StrataError ? `${e.code}: ` : "";
    console.error(`strata ${found.command.name}: ${prefix}${(e as Error).message}`);
    return 1;
  }
}

// A closed pipe (`strata chunks big.bin | head`) ends the command quietly, as for any Unix tool.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

process.exitCode = await main(process.argv.slice(2));
