// How a dev launcher starts another `strata` process under the runtime running it: from a clone
// the CLI's sources (cli/main.ts, under Bun or Deno; Node runs the bundle), from an installed
// package the bundle (dist/node/strata.mjs). The child is the CLI itself, never a wrapper such
// as bin/strata.mjs, so signals (SIGSTOP, SIGKILL) reach the gateway process.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const SOURCE = fileURLToPath(new URL("../main.ts", import.meta.url));
// From cli/dev/ and from the bundle in dist/node/ alike, ../../ is the package's root.
const BUNDLE = fileURLToPath(new URL("../../dist/node/strata.mjs", import.meta.url));

/** The command line (program, then arguments) that runs `strata` under this runtime. */
export function strataCommand(): [string, ...string[]] {
  const deno = "Deno" in globalThis;
  const fromSource = existsSync(SOURCE) && (process.versions.bun !== undefined || deno);
  const entry = fromSource ? SOURCE : BUNDLE;
  if (!fromSource && !existsSync(BUNDLE)) throw new Error(`neither the CLI's sources under Bun or Deno nor the bundle ${BUNDLE} are here: run npm run build:node`);
  return deno ? [process.execPath, "run", "-A", entry] : [process.execPath, entry];
}
