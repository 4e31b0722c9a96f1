// `strata edge run --on-update CMD`: a shell command run after each pin update (reload a model
// server, say), with the update in its environment. A non-zero exit is the pin callback failing:
// the run logs it, and under a rollout the device reports the failure (docs/fleet.md).
import { spawn } from "node:child_process";
import type { PinUpdate } from "../edge/sync/pin-sync.ts";

export function updateHook(command: string): (update: PinUpdate) => Promise<void> {
  return (update) =>
    new Promise((resolve, reject) => {
      const child = spawn("sh", ["-c", command], {
        stdio: ["ignore", "inherit", "inherit"],
        env: { ...process.env, STRATA_STREAM: update.stream, STRATA_PATH: update.path, STRATA_ARTEFACT: update.artefact, STRATA_SIZE: String(update.size) },
      });
      child.once("error", reject);
      child.once("exit", (code, signal) => {
        if (code === 0) resolve();
        else reject(new Error(`--on-update command exited with ${signal ?? `status ${code}`}`));
      });
    });
}
