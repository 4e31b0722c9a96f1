// The `strata-source` record header: `"<stream>/<partition>/<offset>"`, the record this one was
// derived from. A stream name may hold slashes, so the last two segments are partition and
// offset. `strata trace` walks these back hop by hop (docs/tracing.md).
import { isValidStreamName } from "../log/stream-name.ts";

export const SOURCE_HEADER = "strata-source";

export interface RecordPosition {
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
}

const SOURCE = /^(.+)\/(0|[1-9]\d{0,8})\/(0|[1-9]\d{0,15})$/;

export function formatSource(position: RecordPosition): string {
  return `${position.stream}/${position.partition}/${position.offset}`;
}

/** The position `value` names, or undefined when it is not `<stream>/<partition>/<offset>` with a valid stream name and safe integers. */
export function parseSource(value: unknown): RecordPosition | undefined {
  if (typeof value !== "string") return undefined;
  const match = SOURCE.exec(value);
  if (match === null) return undefined;
  const [, stream, partition, offset] = match;
  const position = { stream: stream!, partition: Number(partition), offset: Number(offset) };
  return isValidStreamName(position.stream) && Number.isSafeInteger(position.offset) ? position : undefined;
}
