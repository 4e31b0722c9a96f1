#!/usr/bin/env node
// `npx strata …`: runs the CLI under Bun (the project's main runtime, a devDependency),
// passing signals and the exit code through.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const bun = process.versions.bun ? process.execPath : join(dirname(require.resolve("bun/package.json")), "bin", "bun.exe");
const child = spawn(bun, [join(root, "cli", "main.ts"), ...process.argv.slice(2)], { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => (signal ? process.kill(process.pid, signal) : process.exit(code ?? 1)));
