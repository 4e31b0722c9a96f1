// Stream names are identifiers, never paths: validated here before anything touches storage.
import { StrataError } from "../errors.ts";

export const MAX_STREAM_NAME_LENGTH = 200;
const STREAM_NAME = /^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/;

export function isValidStreamName(name: unknown): name is string {
  return typeof name === "string" && name.length <= MAX_STREAM_NAME_LENGTH && STREAM_NAME.test(name);
}

export function assertStreamName(name: unknown): string {
  if (!isValidStreamName(name)) {
    throw new StrataError(
      "INVALID_STREAM_NAME",
      `stream name must match ${STREAM_NAME.source} and be at most ${MAX_STREAM_NAME_LENGTH} characters`,
    );
  }
  return name;
}
