// rsync's delta transfer of the same update: the destination holds v1, rsync sends v2 with the
// delta algorithm forced on (`--no-whole-file`; a local copy would otherwise send whole files).
// "Literal data" is what rsync had to send because the receiver could not match it.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

export interface RsyncDelta {
  readonly version: string;
  readonly literalBytes: number;
  readonly matchedBytes: number;
  readonly sentBytes: number;
  readonly seconds: number;
}

function stat(out: string, label: string): number {
  const m = new RegExp(`${label}: ([\\d,.]+)(?: bytes)?\\n`).exec(out);
  if (!m) throw new Error(`rsync --stats output has no "${label}":\n${out}`);
  return Number(m[1]!.replace(/[,.]/g, ""));
}

export function rsyncVersion(): string {
  const r = spawnSync("rsync", ["--version"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error("rsync is not installed (apt-get install rsync)");
  return (r.stdout.split("\n")[0] ?? "rsync").replace(/\s+protocol.*$/, "").replace(/\s+/g, " ").trim();
}

/** rsync of `v2` onto a copy of `v1` in `workDir`; returns rsync's own statistics. */
export function rsyncDelta(v1: string, v2: string, workDir: string): RsyncDelta {
  const dest = join(workDir, "rsync-dest");
  mkdirSync(dest, { recursive: true });
  const target = join(dest, "model.safetensors");
  copyFileSync(v1, target);
  const started = performance.now();
  const r = spawnSync("rsync", ["--no-whole-file", "--stats", v2, target], { encoding: "utf8" });
  const seconds = (performance.now() - started) / 1000;
  if (r.status !== 0) throw new Error(`rsync failed (${r.status}): ${r.stderr}`);
  return {
    version: rsyncVersion(),
    literalBytes: stat(r.stdout, "Literal data"),
    matchedBytes: stat(r.stdout, "Matched data"),
    sentBytes: stat(r.stdout, "Total bytes sent"),
    seconds,
  };
}
