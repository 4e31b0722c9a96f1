// The access log (docs/logging.md): one structured record per HTTP or QUIC request on the
// `strata.access` logger, at info level. Where it goes (stderr, as text, JSON Lines or pretty) is
// the CLI's choice (cli/logging.ts); a library embedding the gateway without configuring LogTape
// gets nothing. The transports call emitAccess only when `observability.accessLog` is on and
// accessLogged() says the record would be printed.
import { getLogger, type LogRecord } from "@logtape/logtape";

const CATEGORY = ["strata", "access"] as const;
const log = getLogger(CATEGORY);

export interface AccessEntry {
  transport: "http" | "quic";
  method: string;
  /** The route pattern (`/v1/streams/:name/records`), never the raw path: bounded and free of record keys. */
  route: string;
  status: number;
  /** The stable error code (core/errors.ts) of an error answer. */
  code?: string;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
  /** The token's subject when the gateway runs with --auth. */
  subject?: string;
}

/** The properties of one access record, in snake_case as they appear in the JSON Lines output. */
export type AccessProperties = {
  transport: "http" | "quic";
  method: string;
  route: string;
  status: number;
  code: string | undefined;
  duration_ms: number;
  bytes_in: number;
  bytes_out: number;
  subject: string | undefined;
};

/** Whether access records are printed at all (the log level may hide them): callers skip building entries when not. */
export function accessLogged(): boolean {
  return log.isEnabledFor("info");
}

export function logAccess(entry: AccessEntry): void {
  if (accessLogged()) emitAccess(entry);
}

/**
 * logAccess for a caller that has just checked accessLogged(). The record is handed to LogTape
 * whole (Logger.emit with its category, a message without placeholders): the access log runs on
 * every request, and this skips the template parsing and lazy property records of log.info,
 * which cost several microseconds a request in the publish benchmark (bench/observability.ts).
 */
export function emitAccess(entry: AccessEntry): void {
  const properties: AccessProperties = {
    transport: entry.transport,
    method: entry.method,
    route: entry.route,
    status: entry.status,
    code: entry.code,
    // Microsecond resolution is plenty and keeps the lines short.
    duration_ms: Math.round(entry.durationMs * 1000) / 1000,
    bytes_in: entry.bytesIn,
    bytes_out: entry.bytesOut,
    subject: entry.subject,
  };
  const message = messageOf(properties);
  const record: LogRecord = { category: CATEGORY, level: "info", message: [message], rawMessage: message, timestamp: Date.now(), properties };
  log.emit(record);
}

/** The record's message: the fields in a fixed order, readable in the text and pretty formats. */
function messageOf(p: AccessProperties): string {
  const code = p.code === undefined ? "" : ` ${p.code}`;
  const subject = p.subject === undefined ? "" : ` subject ${p.subject}`;
  return `${p.transport} ${p.method} ${p.route} ${p.status}${code} ${p.duration_ms} ms in ${p.bytes_in} B out ${p.bytes_out} B${subject}`;
}

