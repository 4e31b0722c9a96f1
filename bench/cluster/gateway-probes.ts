// What the cluster bench reads off a running gateway: its process's CPU time (/proc/<pid>/stat)
// and its intake counters (GET /metrics, Prometheus text: strata_intake_puts_total,
// strata_intake_bytes_total and the strata_intake_commit_seconds histogram's sum and count).
import { readFileSync } from "node:fs";

/** USER_HZ: Linux reports utime/stime in clock ticks of 1/100 s. */
const TICKS_PER_SECOND = 100;

/** User + system CPU time of process `pid` so far, in seconds (0 once the process is gone). */
export function cpuSeconds(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return 0;
  }
  // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

export interface IntakeCounters {
  readonly puts: number;
  readonly bytes: number;
  /** Sum and count of the intake commit latency histogram (seconds). */
  readonly commitSecondsSum: number;
  readonly commitCount: number;
}

export const NO_INTAKE: IntakeCounters = { puts: 0, bytes: 0, commitSecondsSum: 0, commitCount: 0 };

/** Sum of every sample of metric `name` (all label sets) in Prometheus text; 0 when absent. */
function sample(text: string, name: string): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== " " && rest[0] !== "{") continue;
    const value = Number(rest.slice(rest.lastIndexOf(" ") + 1));
    if (Number.isFinite(value)) total += value;
  }
  return total;
}

/** The gateway's intake counters (all zero outside cluster mode). */
export async function intakeCounters(url: string): Promise<IntakeCounters> {
  const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET ${url}/metrics: ${response.status}`);
  const text = await response.text();
  return {
    puts: sample(text, "strata_intake_puts_total"),
    bytes: sample(text, "strata_intake_bytes_total"),
    commitSecondsSum: sample(text, "strata_intake_commit_seconds_sum"),
    commitCount: sample(text, "strata_intake_commit_seconds_count"),
  };
}

export function intakeDelta(after: IntakeCounters, before: IntakeCounters): IntakeCounters {
  return {
    puts: after.puts - before.puts,
    bytes: after.bytes - before.bytes,
    commitSecondsSum: after.commitSecondsSum - before.commitSecondsSum,
    commitCount: after.commitCount - before.commitCount,
  };
}

export function addIntake(a: IntakeCounters, b: IntakeCounters): IntakeCounters {
  return { puts: a.puts + b.puts, bytes: a.bytes + b.bytes, commitSecondsSum: a.commitSecondsSum + b.commitSecondsSum, commitCount: a.commitCount + b.commitCount };
}
