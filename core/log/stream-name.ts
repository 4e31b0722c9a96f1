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

/**
 * Internal streams (`_strata/<name>`, e.g. `_strata/anomalies`) are created and written by the
 * gateways only: the public rule above never admits them (a client cannot create or publish to
 * one), while storage and reads take either form.
 */
export const INTERNAL_STREAM_PREFIX = "_strata/";

export function isInternalStreamName(name: unknown): name is string {
  return typeof name === "string" && name.length <= MAX_STREAM_NAME_LENGTH && name.startsWith(INTERNAL_STREAM_PREFIX) && STREAM_NAME.test(name.slice(INTERNAL_STREAM_PREFIX.length));
}

export function assertInternalStreamName(name: unknown): string {
  if (!isInternalStreamName(name)) throw new StrataError("INVALID_STREAM_NAME", `an internal stream name is ${INTERNAL_STREAM_PREFIX} followed by a stream name`);
  return name;
}

/** A name storage may hold: a public stream name or an internal one. */
export function assertStoredStreamName(name: unknown): string {
  return isInternalStreamName(name) ? name : assertStreamName(name);
}
