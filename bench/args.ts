// `--name N` options of the bench scripts, read with node:util's parseArgs (unknown options are
// left to each script's own flags, e.g. `--no-delta`).
import { parseArgs } from "node:util";

/** The positive integer given as `--name N`, or `fallback`; anything else stops the bench. */
export function intArg(name: string, fallback: number): number {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { [name]: { type: "string" } }, strict: false, allowPositionals: true });
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== "string" || !Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} needs a positive integer`);
  return n;
}
