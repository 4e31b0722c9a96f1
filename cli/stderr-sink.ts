// The CLI's log sink: formatted records go to stderr, gathered and written every FLUSH_MS (or
// once MAX_PENDING_CHARS are pending) instead of one write, a system call on a file or pipe, per
// record: the access log writes a record for every request, and per-record writes cost the
// publish path measurably (bench/observability.ts). Warnings and errors are written at once,
// with whatever precedes them, and whatever is pending is written before the process exits.
//
// The sink formats each record while LogTape calls it, so it is marked as an immediate sink, the
// mark LogTape's own stream sink carries: LogTape then hands it the record as it is instead of a
// snapshot copy of its properties (made for sinks that may read a record later), which was most of
// LogTape's dispatch cost per access record (about 0.9 of 1.1 µs). LogTape 2 has no exported
// function for the mark, only its registered symbol; were a release to drop it, records would
// just be snapshotted again (slower, same output).
import { writeSync } from "node:fs";
import type { LogRecord, Sink, TextFormatter } from "@logtape/logtape";

/** How long an info or debug record may wait to be written. */
const FLUSH_MS = 20;
/** Pending text past this is written at once. */
const MAX_PENDING_CHARS = 64 * 1024;

/** LogTape's mark of a sink that reads a record only while it is being called (see above). */
const IMMEDIATE_SINK = Symbol.for("LogTape.sinkSnapshotPolicy.immediate");

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
  const sink: Sink = (record: LogRecord) => {
    pending += format(record);
    if (record.level === "warning" || record.level === "error" || record.level === "fatal" || pending.length >= MAX_PENDING_CHARS) flush();
    else if (timer === undefined) {
      timer = setTimeout(flush, FLUSH_MS);
      // A pending log line keeps no process alive: the exit handler writes it.
      timer.unref?.();
    }
  };
  Object.defineProperty(sink, IMMEDIATE_SINK, { value: true });
  return sink;
}
