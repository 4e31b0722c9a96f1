// The loop behind `strata publish` and `strata edge publish`: read JSON lines, cut them into
// batches, send each. A bad line stops the run after everything before it is sent, saying how
// many records went out and the line to resume from; with --skip-bad it is counted and skipped.
import { getLogger } from "@logtape/logtape";
import { StrataError } from "../core/errors.ts";
import { GatewayUnreachableError } from "./gateway-errors.ts";
import { type LineReading, recordsOfLines } from "./json-records.ts";
import { type Batch, type BatchBounds, RecordBatcher } from "./record-batches.ts";

const log = getLogger(["strata", "cli", "publish"]);

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

/** The run stopped at `line`: records before it were sent (`published`), none from it on. */
export class PublishStopped extends Error {
  readonly published: number;
  readonly line: number;

  constructor(published: number, line: number, why: string, resume: string, cause?: unknown) {
    super(`${why} — ${plural(published, "record")} published; resume from line ${line}${resume}`, { cause });
    this.published = published;
    this.line = line;
  }
}

function describe(error: unknown): string {
  if (error instanceof GatewayUnreachableError) return error.message;
  if (error instanceof StrataError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

export interface PublishLinesOptions<T> {
  readonly lines: AsyncIterable<string>;
  readonly reading: LineReading<T>;
  readonly bounds: BatchBounds;
  readonly skipBad: boolean;
  /** The command as the user would type it again, for the resume hint ("strata publish STREAM"). */
  readonly command: string;
  /** Sends one batch; resolves once the receiver has acknowledged all of it. */
  send(batch: Batch<T>): Promise<void>;
}

export interface PublishLinesResult {
  readonly published: number;
  readonly skipped: number;
}

export async function publishLines<T>(options: PublishLinesOptions<T>): Promise<PublishLinesResult> {
  const batcher = new RecordBatcher<T>(options.bounds);
  let published = 0;
  let skipped = 0;
  const tail = (line: number): string => ` (e.g. \`tail -n +${line} FILE | ${options.command}\`)`;
  const badLine = (line: number, reason: string): PublishStopped =>
    new PublishStopped(published, line, `line ${line}: ${reason}`, `${tail(line)} once it is fixed, or pass --skip-bad to skip bad lines`);
  const send = async (batches: readonly Batch<T>[]): Promise<void> => {
    for (const batch of batches) {
      try {
        await options.send(batch);
      } catch (e) {
        throw new PublishStopped(published, batch.firstLine, `records from line ${batch.firstLine} on were not acknowledged: ${describe(e)}`, tail(batch.firstLine), e);
      }
      published += batch.items.length;
    }
  };
  for await (const outcome of recordsOfLines(options.lines, options.reading)) {
    if (outcome.kind === "bad") {
      if (options.skipBad) {
        skipped++;
        log.warning("skipped line {line}: {reason}", { line: outcome.line, reason: outcome.reason });
        continue;
      }
      await send(batcher.take());
      throw badLine(outcome.line, outcome.reason);
    }
    if (outcome.record.bytes > options.bounds.maxBytes) {
      // Only a receiver configured below its record limit gets here; the line cannot be sent.
      const reason = `the record encodes to ${outcome.record.bytes} bytes, more than a batch may hold (${options.bounds.maxBytes})`;
      if (!options.skipBad) {
        await send(batcher.take());
        throw badLine(outcome.line, reason);
      }
      skipped++;
      log.warning("skipped line {line}: {reason}", { line: outcome.line, reason });
      continue;
    }
    await send(batcher.add(outcome.record.value, outcome.line, outcome.record.bytes, outcome.textBytes));
  }
  await send(batcher.take());
  if (skipped > 0) log.warning("published {published}, skipped {skipped}", { published: plural(published, "record"), skipped: plural(skipped, "bad line") });
  return { published, skipped };
}
