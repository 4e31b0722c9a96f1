#!/usr/bin/env node
// The `strata` command. In a clone (cli/main.ts beside this file) it runs the CLI's sources under
// Bun, the project's main runtime (a devDependency), passing signals and the exit code through.
// An installed package ships no sources: there it runs the bundled CLI (dist/node/strata.mjs,
// `npm run build:node`) in this process, under whatever runtime started the command.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "cli", "main.ts");
const bundle = join(root, "dist", "node", "strata.mjs");

/** Bun's executable: this process if Bun runs it, else the bun devDependency (undefined if absent). */
function bunExecutable() {
  if (process.versions.bun) return process.execPath;
  try {
    return join(dirname(createRequire(import.meta.url).resolve("bun/package.json")), "bin", "bun.exe");
  } catch {
    return undefined;
  }
}

const bun = existsSync(source) ? bunExecutable() : undefined;
if (bun) {
  const child = spawn(bun, [source, ...process.argv.slice(2)], { stdio: "inherit" });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => (signal ? process.kill(process.pid, signal) : process.exit(code ?? 1)));
} else if (existsSync(bundle)) {
  await import(pathToFileURL(bundle).href);
} else {
  process.stderr.write(`strata: neither Bun (to run ${source}) nor the bundle ${bundle} is here; run npm install, or npm run build:node\n`);
  process.exit(1);
}
