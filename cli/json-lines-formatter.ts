// The `--log-format json` formatter: LogTape's default JSON Lines formatter, with a fast path for
// the common record whose message has no placeholders and whose properties are all strings,
// numbers, booleans or absent, such as every access-log record. LogTape stringifies through a
// replacer (for errors, bigints and cycles), which made JSON formatting the largest cost of the
// access log in the publish benchmark (bench/observability.ts); for such records a plain
// JSON.stringify writes the very same line. Anything else goes to LogTape's formatter.
import { jsonLinesFormatter, type LogRecord, type TextFormatter } from "@logtape/logtape";

/** The characters LogTape's formatter escapes beyond what JSON.stringify escapes. */
const C1_CONTROLS = /[\u007f-\u009f]/;

function plainProperties(properties: Record<string, unknown>): boolean {
  for (const key in properties) {
    const value = properties[key];
    const type = typeof value;
    if (type !== "string" && type !== "number" && type !== "boolean" && type !== "undefined" && value !== null) return false;
  }
  return true;
}

export const jsonLines: TextFormatter = (record: LogRecord): string => {
  const message = record.message;
  if (message.length !== 1 || typeof message[0] !== "string" || !plainProperties(record.properties)) return jsonLinesFormatter(record);
  const line = JSON.stringify({
    "@timestamp": new Date(record.timestamp).toISOString(),
    level: record.level === "warning" ? "WARN" : record.level.toUpperCase(),
    message: message[0],
    logger: record.category.join("."),
    properties: record.properties,
  });
  return C1_CONTROLS.test(line) ? jsonLinesFormatter(record) : `${line}\n`;
};
