// The process and the build (docs/metrics.md): prom-client's default collectors (CPU, resident
// memory, open file descriptors, event-loop lag, heap, GC; the ones a runtime cannot answer
// report nothing there) and `strata_build_info{version,runtime,runtime_version} 1`.
import * as prom from "prom-client";
import { z } from "zod";
import packageJson from "../../package.json" with { type: "json" };
import type { MetricsRegistry } from "../metrics.ts";

const VERSION: string = z.object({ version: z.string() }).parse(packageJson).version;

/** The JavaScript runtime serving the gateway and its version. */
export function runtimeInfo(): { runtime: "bun" | "deno" | "node"; version: string } {
  const runtimes: { Bun?: { version: string }; Deno?: { version: { deno: string } } } = globalThis;
  if (runtimes.Bun !== undefined) return { runtime: "bun", version: runtimes.Bun.version };
  if (runtimes.Deno !== undefined) return { runtime: "deno", version: runtimes.Deno.version.deno };
  return { runtime: "node", version: process.versions.node };
}

/**
 * Default gauges whose names end in `_total`, which `promtool check metrics` refuses for anything
 * but a counter; the same counts stay available per type in `nodejs_active_handles` and
 * `nodejs_active_requests` (sum them).
 */
const MISNAMED_DEFAULTS = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"] as const;

let processMetrics: prom.Registry | undefined;

/**
 * The default collectors, created once per process: they describe the process, and each starts
 * an event-loop delay monitor that nothing can stop, so every gateway of a process (tests open
 * many) shares these metric objects instead of starting its own.
 */
function defaultCollectors(): prom.Registry {
  if (processMetrics !== undefined) return processMetrics;
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);
  processMetrics = registry;
  return registry;
}

export function registerProcessMetrics(registry: MetricsRegistry): void {
  const defaults = defaultCollectors();
  for (const { name } of defaults.getMetricsAsArray()) {
    const metric = defaults.getSingleMetric(name);
    if (metric !== undefined) registry.prom.registerMetric(metric);
  }
  const { runtime, version } = runtimeInfo();
  registry.gauge("strata_build_info", "Always 1: the gateway's version and the runtime serving it, as labels.", ["version", "runtime", "runtime_version"]).set({ version: VERSION, runtime, runtime_version: version }, 1);
}
