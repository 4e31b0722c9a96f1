// The CLI is the one place that decides where log records go: to stderr, one line each with an
// RFC 3339 time, at or above --log-level (or STRATA_LOG_LEVEL; `info` by default, `error` with
// --quiet). Libraries only call getLogger(["strata", …]); stdout stays for command output.
import { configure, getLogLevels, getTextFormatter, type LogLevel } from "@logtape/logtape";
import { Option } from "commander";
import { z } from "zod";

export const DEFAULT_LOG_LEVEL: LogLevel = "info";

export const logLevelText = z.enum(getLogLevels());

export function logLevelOption(): Option {
  return new Option("--log-level <LEVEL>", "least severe log record printed on stderr").choices(getLogLevels()).env("STRATA_LOG_LEVEL").default(DEFAULT_LOG_LEVEL);
}

let configured = false;

/** Sends the `strata` loggers' records at or above `level` to stderr. Called once, before a command runs. */
export async function configureLogging(level: LogLevel): Promise<void> {
  if (configured) return;
  configured = true;
  const format = getTextFormatter({ timestamp: "rfc3339", category: ".", value: "bare" });
  await configure({
    sinks: { stderr: (record) => void process.stderr.write(format(record)) },
    loggers: [
      { category: ["strata"], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}
