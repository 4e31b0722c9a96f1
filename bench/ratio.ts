// One line per measured ratio, printed by a bench beside its tables, for `npm run bench` to
// gather into one summary table (bench/run.ts). A ratio is "Strata / peer" in the direction
// where higher is better for Strata unless `lowerIsBetter` says otherwise (latencies, wall times).
export interface Ratio {
  /** What was measured, e.g. "publish 1 KiB, batch 1000". */
  readonly metric: string;
  /** The peer and what it guarantees, e.g. "raw JetStream (no fsync before ack)". */
  readonly peer: string;
  /** Strata's figure with its unit, e.g. "412,000 records/s". */
  readonly strata: string;
  /** The peer's figure from the same run, with its unit. */
  readonly peerValue: string;
  /** Strata / peer (or peer / Strata when lowerIsBetter: always "how many times the peer"). */
  readonly ratio: number;
  /** The goal as text, e.g. ">= 2x"; absent when there is none. */
  readonly goal?: string;
  /** Whether the goal was met in this run; absent when there is no goal. */
  readonly met?: boolean;
}

export const RATIO_MARKER = "::strata-ratio::";

/** Prints the ratio as one marker line (JSON) that bench/run.ts collects. */
export function reportRatio(r: Ratio): void {
  console.log(RATIO_MARKER + JSON.stringify(r));
}

/** Parses a marker line, or undefined when the line is not one. */
export function parseRatioLine(line: string): Ratio | undefined {
  const at = line.indexOf(RATIO_MARKER);
  if (at < 0) return undefined;
  try {
    const v: unknown = JSON.parse(line.slice(at + RATIO_MARKER.length));
    if (typeof v !== "object" || v === null) return undefined;
    const o = v as Record<string, unknown>;
    if (typeof o.metric !== "string" || typeof o.peer !== "string" || typeof o.ratio !== "number") return undefined;
    return {
      metric: o.metric,
      peer: o.peer,
      strata: String(o.strata ?? ""),
      peerValue: String(o.peerValue ?? ""),
      ratio: o.ratio,
      ...(typeof o.goal === "string" ? { goal: o.goal } : {}),
      ...(typeof o.met === "boolean" ? { met: o.met } : {}),
    };
  } catch {
    return undefined;
  }
}
