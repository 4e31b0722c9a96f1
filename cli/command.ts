/** One CLI command: `strata <name> …`. `run` gets the arguments after the name and returns the exit code. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  run(args: string[]): Promise<number>;
}

/** Parsed `--flag value` / `--flag=value` / `--switch` arguments; the rest are positionals. */
export interface ParsedArgs {
  readonly flags: Map<string, string[]>;
  readonly switches: Set<string>;
  readonly positionals: string[];
}

export class UsageError extends Error {}

/** Parses argv against the set of flags that take a value; every other `--x` is a switch. */
export function parseArgs(args: string[], valueFlags: readonly string[]): ParsedArgs {
  const flags = new Map<string, string[]>();
  const switches = new Set<string>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (valueFlags.includes(name)) {
      const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      flags.set(name, [...(flags.get(name) ?? []), value]);
    } else if (eq !== -1) {
      throw new UsageError(`--${name} takes no value`);
    } else {
      switches.add(name);
    }
  }
  return { flags, switches, positionals };
}

export function flag(parsed: ParsedArgs, name: string): string | undefined {
  const values = parsed.flags.get(name);
  return values?.[values.length - 1];
}
