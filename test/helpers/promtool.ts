// `promtool` (Prometheus's checker) for the tests of /metrics: the one on PATH, else Debian's
// `prometheus` package installed with apt-get (which brings promtool) through python.ts's aptInstall.
import { spawnSync } from "node:child_process";
import { aptInstall } from "./python.ts";

let cached: string | undefined;

function onPath(): string | undefined {
  const found = spawnSync("sh", ["-c", "command -v promtool"], { stdio: "pipe", encoding: "utf8" });
  const path = found.stdout.trim();
  return found.status === 0 && path.length > 0 ? path : undefined;
}

/** The path of promtool, installing Debian's `prometheus` when none is on PATH. */
export function promtool(): string {
  if (cached !== undefined) return cached;
  let found = onPath();
  if (found === undefined) {
    aptInstall(["prometheus"]);
    found = onPath();
  }
  if (found === undefined) throw new Error("no promtool on PATH, even after apt-get install prometheus");
  cached = found;
  return found;
}

export interface PromtoolCheck {
  /** promtool's exit status: 0 when the exposition is valid and lint-clean. */
  readonly code: number;
  /** What promtool said (its complaints, one per line). */
  readonly output: string;
}

/** `promtool check metrics` on a text exposition (read from stdin). */
export function checkMetrics(exposition: string): PromtoolCheck {
  const result = spawnSync(promtool(), ["check", "metrics"], { input: exposition, stdio: "pipe", encoding: "utf8", timeout: 60_000 });
  return { code: result.status ?? -1, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}
