// Finds Debian's `b3sum` (the native BLAKE3 oracle), installing it with apt-get when missing
// (CI runs as root on a possibly fresh machine).
import { spawnSync } from "node:child_process";

function onPath(): boolean {
  return spawnSync("b3sum", ["--version"], { stdio: "ignore" }).status === 0;
}

let ensured = false;

/** Makes sure `b3sum` is on PATH; throws with the apt-get output if it cannot be installed. */
export function ensureB3sum(): void {
  if (ensured || onPath()) {
    ensured = true;
    return;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const update = spawnSync("apt-get", ["update"], { encoding: "utf8", env });
  const install = spawnSync("apt-get", ["install", "-y", "b3sum"], { encoding: "utf8", env });
  if (install.status !== 0 || !onPath()) {
    throw new Error(`b3sum is missing and apt-get could not install it:\n${update.stderr}\n${install.stderr}`);
  }
  ensured = true;
}

/** `b3sum --no-names` of `input` fed on stdin, with optional extra arguments. */
export function b3sum(input: Uint8Array, args: string[] = []): string {
  ensureB3sum();
  const r = spawnSync("b3sum", ["--no-names", ...args], { input, maxBuffer: 1 << 20, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`b3sum failed: ${r.stderr}`);
  return r.stdout.trim();
}
