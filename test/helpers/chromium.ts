// Debian's Chromium for browser tests, driven through playwright-core: installed with apt-get
// when missing (as root, as in CI), launched headless with a fresh profile directory.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chromium, type BrowserContext } from "playwright-core";
import { removeDir, tempDir } from "./gateway.ts";

export const CHROMIUM = "/usr/bin/chromium";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: "pipe", encoding: "utf8", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.status}):\n${result.stdout}${result.stderr}`);
}

/** Installs Debian's chromium package unless it is there (needs root). */
export function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  if (process.getuid?.() !== 0) throw new Error(`${CHROMIUM} is missing; install it with: apt-get install chromium (the tests install it when run as root)`);
  run("apt-get", ["update"]);
  run("apt-get", ["install", "-y", "--no-install-recommends", "chromium"]);
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} is still missing`);
}

export interface Chromium {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** Launches headless Chromium with a fresh user-data-dir, removed at close. */
export async function launchChromium(): Promise<Chromium> {
  ensureChromium();
  const profile = tempDir("strata-chromium-");
  try {
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
    return {
      context,
      async close() {
        await context.close();
        removeDir(profile);
      },
    };
  } catch (e) {
    removeDir(profile);
    throw e;
  }
}
