// The CLI's log sink: formatted records go to stderr, gathered into one write per turn of the
// event loop instead of one write (a system call on a file or pipe) per record, because the
// access log writes a record for every request (bench/observability.ts). Warnings and errors
// are written at once, and whatever is pending is written before the process exits.
import { writeSync } from "node:fs";
import type { LogRecord, Sink, TextFormatter } from "@logtape/logtape";

/** Pending text past this is written at once rather than at the end of the turn. */
const MAX_PENDING_CHARS = 64 * 1024;

export function stderrSink(format: TextFormatter): Sink {
  let pending = "";
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending;
    pending = "";
    process.stderr.write(text);
  };
  // Synchronous: an exiting process runs no more turns of the event loop.
  process.once("exit", () => {
    if (pending.length > 0) writeSync(2, pending);
    pending = "";
  });
  return (record: LogRecord) => {
    pending += format(record);
    if (record.level === "warning" || record.level === "error" || record.level === "fatal" || pending.length >= MAX_PENDING_CHARS) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
}
