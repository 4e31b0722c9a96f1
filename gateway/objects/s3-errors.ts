// Map @aws-sdk/client-s3 failures to StrataErrors, keeping the SDK error as `cause`.

import { S3ServiceException } from "@aws-sdk/client-s3";
import { StrataError, isStrataError } from "../../core/errors.ts";
import type { ByteRange } from "./object-store.ts";

export function mapS3Error(op: string, key: string, e: unknown, range?: ByteRange): StrataError {
  if (isStrataError(e)) return e;
  const name = sdkName(e);
  const status = e instanceof S3ServiceException ? e.$metadata.httpStatusCode : undefined;
  const detail = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  if (status === 404 || name === "NoSuchKey" || name === "NotFound" || name === "NoSuchBucket") {
    return new StrataError("NOT_FOUND", `${op} ${key}: not found (${detail})`, { cause: e });
  }
  if (status === 412 || name === "PreconditionFailed") {
    return new StrataError("OBJECT_EXISTS", `object ${key} already exists`, { cause: e });
  }
  if (status === 416 || name === "InvalidRange") {
    const where = range ? `range [${range.offset}, ${range.offset + range.length})` : "range";
    return new StrataError("OFFSET_OUT_OF_RANGE", `${where} is past the end of ${key}`, { cause: e });
  }
  return new StrataError("STORAGE_ERROR", `object store ${op} ${key} failed: ${detail}`, { cause: e });
}

export function sdkName(e: unknown): string | undefined {
  return e instanceof Error ? e.name : undefined;
}
