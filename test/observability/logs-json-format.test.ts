// The JSON Lines formatter of `--log-format json` writes exactly what LogTape's own JSON Lines
// formatter writes, for records on its fast path (plain properties) and off it (errors, bigints,
// templates with values, C1 control characters, an empty properties object).
import { expect, test } from "bun:test";
import { jsonLinesFormatter, type LogRecord } from "@logtape/logtape";
import { jsonLines } from "../../cli/json-lines-formatter.ts";

function record(message: readonly unknown[], properties: Record<string, unknown>, level: LogRecord["level"] = "info"): LogRecord {
  return { category: ["strata", "access"], level, message, rawMessage: "", timestamp: Date.UTC(2026, 11, 1, 6, 1, 33, 290), properties };
}

const access = { transport: "http", method: "POST", route: "/v1/streams/:name/records", status: 200, code: undefined, duration_ms: 0.734, bytes_in: 616, bytes_out: 36, subject: "camera-rig-7" };

const cases: Array<[string, LogRecord]> = [
  ["an access record", record(["http POST /v1/streams/:name/records 200 0.734 ms in 616 B out 36 B"], access)],
  ["a warning with null and boolean properties", record(["retrying"], { attempt: 2, ok: false, last: null }, "warning")],
  ["quotes, backslashes, newlines and non-ASCII text", record(['a "quoted"\\path\nnext — ü 😀'], { subject: 'x"y\\z\n\u2028' })],
  ["C1 control characters", record(["bad \u0085 char"], { value: "\u009b" })],
  ["an error property", record(["failed"], { error: new Error("boom", { cause: "disk" }) }, "error")],
  ["a bigint property", record(["big"], { n: 12345678901234567890n })],
  ["a nested object", record(["nested"], { a: { b: [1, 2] } })],
  ["a template with values", record(["copied ", 3, " files to ", "backup/x", ""], { n: 3 })],
  ["no properties", record(["plain"], {})],
];

test.each(cases)("%s is written as LogTape's JSON Lines formatter writes it", (_name, r) => {
  expect(jsonLines(r)).toBe(jsonLinesFormatter(r));
});
