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

// The last timestamp and category written, with their text: at thousands of records a second
// most records share the millisecond and the category of the one before.
let lastTimestamp = Number.NaN;
let lastTimestampText = "";
let lastCategory: readonly string[] = [];
let lastCategoryText = "";

export const jsonLines: TextFormatter = (record: LogRecord): string => {
  const message = record.message;
  if (message.length !== 1 || typeof message[0] !== "string" || !plainProperties(record.properties)) return jsonLinesFormatter(record);
  if (record.timestamp !== lastTimestamp) {
    lastTimestampText = new Date(record.timestamp).toISOString();
    lastTimestamp = record.timestamp;
  }
  if (record.category !== lastCategory) {
    lastCategoryText = record.category.join(".");
    lastCategory = record.category;
  }
  const line = JSON.stringify({
    "@timestamp": lastTimestampText,
    level: record.level === "warning" ? "WARN" : record.level.toUpperCase(),
    message: message[0],
    logger: lastCategoryText,
    properties: record.properties,
  });
  return C1_CONTROLS.test(line) ? jsonLinesFormatter(record) : `${line}\n`;
};
