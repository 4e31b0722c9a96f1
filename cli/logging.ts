// The CLI is the one place that decides where log records go: to stderr, one record per line, at
// or above --log-level (or STRATA_LOG_LEVEL; `info` by default, `error` with --quiet), in the
// --log-format (or STRATA_LOG_FORMAT): `text` (RFC 3339 time, level, category, message), `json`
// (JSON Lines: one object per record with its properties) or `pretty` (@logtape/pretty, coloured
// on a terminal). Libraries only call getLogger(["strata", …]); stdout stays for command output.
// docs/logging.md.
import { configure, getLogLevels, getTextFormatter, type LogLevel, type TextFormatter } from "@logtape/logtape";
import { getPrettyFormatter } from "@logtape/pretty";
import { Option } from "commander";
import { z } from "zod";
import { jsonLines } from "./json-lines-formatter.ts";
import { stderrSink } from "./stderr-sink.ts";

export const DEFAULT_LOG_LEVEL: LogLevel = "info";

export const logLevelText = z.enum(getLogLevels());

export const LOG_FORMATS = ["text", "json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const DEFAULT_LOG_FORMAT: LogFormat = "text";
export const logFormatText = z.enum(LOG_FORMATS);

export function logLevelOption(): Option {
  return new Option("--log-level <LEVEL>", "least severe log record printed on stderr").choices(getLogLevels()).env("STRATA_LOG_LEVEL").default(DEFAULT_LOG_LEVEL);
}

export function logFormatOption(): Option {
  return new Option("--log-format <FORMAT>", "how log records are printed on stderr: text, json (JSON Lines) or pretty").choices(LOG_FORMATS).env("STRATA_LOG_FORMAT").default(DEFAULT_LOG_FORMAT);
}

function formatter(format: LogFormat): TextFormatter {
  switch (format) {
    case "text":
      return getTextFormatter({ timestamp: "rfc3339", category: ".", value: "bare" });
    case "json":
      // LogTape's default JSON Lines ("." between category names, rendered message, properties
      // nested under `properties`), with a fast path for plain records (json-lines-formatter.ts).
      return jsonLines;
    case "pretty":
      return getPrettyFormatter({ timestamp: "date-time", colors: process.stderr.isTTY === true, properties: false, wordWrap: false });
  }
}

let configured = false;

/** Sends the `strata` loggers' records at or above `level` to stderr in `format`. Called once, before a command runs. */
export async function configureLogging(level: LogLevel, format: LogFormat = DEFAULT_LOG_FORMAT): Promise<void> {
  if (configured) return;
  configured = true;
  await configure({
    sinks: { stderr: stderrSink(formatter(format)) },
    loggers: [
      { category: ["strata"], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}
