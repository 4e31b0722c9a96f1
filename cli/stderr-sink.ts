// The CLI's log sink: formatted records go to stderr, gathered and written every FLUSH_MS (or
// once MAX_PENDING_CHARS are pending) instead of one write, a system call on a file or pipe, per
// record: the access log writes a record for every request, and per-record writes cost the
// publish path measurably (bench/observability.ts). Warnings and errors are written at once,
// with whatever precedes them, and whatever is pending is written before the process exits.
import { writeSync } from "node:fs";
import type { LogRecord, Sink, TextFormatter } from "@logtape/logtape";

/** How long an info or debug record may wait to be written. */
const FLUSH_MS = 20;
/** Pending text past this is written at once. */
const MAX_PENDING_CHARS = 64 * 1024;

export function stderrSink(format: TextFormatter): Sink {
  let pending = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const text = pending;
    pending = "";
    process.stderr.write(text);
  };
  // Synchronous: an exiting process runs no more timers.
  process.once("exit", () => {
    if (pending.length > 0) writeSync(2, pending);
    pending = "";
  });
  return (record: LogRecord) => {
    pending += format(record);
    if (record.level === "warning" || record.level === "error" || record.level === "fatal" || pending.length >= MAX_PENDING_CHARS) flush();
    else if (timer === undefined) {
      timer = setTimeout(flush, FLUSH_MS);
      // A pending log line keeps no process alive: the exit handler writes it.
      timer.unref?.();
    }
  };
}
