// Makes the native UCX path usable for tests: installs Debian's libucx-dev and ucx-utils with
// apt-get when ucp.h or ucx_perftest is missing, builds the addon (npm run build:native) when it
// is missing or older than its sources, then loads it. When any step is impossible the answer
// says why, and tests skip with that reason printed. Cached for the test process.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadUcx } from "../../native/ucx.ts";
import type { Ucx } from "../../native/ucx-api.ts";
import { ROOT } from "./gateway.ts";

export const UCX_ADDON = join(ROOT, "dist", "native", "strata-ucx.node");

export type UcxForTests = { readonly available: true; readonly ucx: Ucx } | { readonly available: false; readonly reason: string };

let cached: UcxForTests | undefined;

function aptInstall(packages: string[]): string | undefined {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const update = spawnSync("apt-get", ["update"], { stdio: "pipe", encoding: "utf8", env });
  if (update.status !== 0) return `apt-get update failed: ${(update.stderr ?? "").trim().split("\n").pop() ?? ""}`;
  const install = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", ...packages], { stdio: "pipe", encoding: "utf8", env });
  if (install.status !== 0) return `apt-get install ${packages.join(" ")} failed: ${(install.stderr ?? "").trim().split("\n").pop() ?? ""}`;
  return undefined;
}

function onPath(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

function addonIsStale(): boolean {
  if (!existsSync(UCX_ADDON)) return true;
  const built = statSync(UCX_ADDON).mtimeMs;
  const sources = join(ROOT, "native", "src");
  return readdirSync(sources).some((file) => statSync(join(sources, file)).mtimeMs > built) || statSync(join(ROOT, "native", "build.mjs")).mtimeMs > built;
}

/** libucx-dev and ucx-utils installed (apt-get when missing), the addon built, and loaded; or why not. */
export function ucxForTests(): UcxForTests {
  if (cached !== undefined) return cached;
  cached = prepare();
  if (!cached.available) console.warn(`native UCX tests skipped: ${cached.reason}`);
  return cached;
}

function prepare(): UcxForTests {
  if (!existsSync("/usr/include/ucp/api/ucp.h") || !onPath("ucx_perftest")) {
    const failed = aptInstall(["libucx-dev", "ucx-utils"]);
    if (failed !== undefined) return { available: false, reason: failed };
  }
  if (addonIsStale()) {
    const build = spawnSync(process.execPath.includes("bun") ? process.execPath : "node", [join(ROOT, "native", "build.mjs")], { cwd: ROOT, stdio: "pipe", encoding: "utf8" });
    if (build.status !== 0) return { available: false, reason: `npm run build:native failed: ${build.stderr}` };
    if (!existsSync(UCX_ADDON)) return { available: false, reason: build.stdout.trim() };
  }
  const load = loadUcx();
  return load.available ? { available: true, ucx: load.ucx } : { available: false, reason: load.reason };
}

/** The Node and Deno binaries of node_modules, for running the same transfer under each runtime. */
export const RUNTIME_BINARIES = {
  node: join(ROOT, "node_modules", ".bin", "node"),
  deno: join(ROOT, "node_modules", ".bin", "deno"),
  bun: join(ROOT, "node_modules", ".bin", "bun"),
} as const;
