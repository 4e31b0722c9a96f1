// Object-key validation, shared by every ObjectStore so that a key valid on one store is
// valid on all of them (the local store maps keys to paths, S3 to URLs).
//
// A key is 1..MAX_OBJECT_KEY_LENGTH characters of `/`-separated segments. Each segment is
// 1..MAX_SEGMENT_LENGTH characters from [A-Za-z0-9._=+@,~-] and must not start with "."
// (that rules out "." and ".." and reserves dot-names for store internals such as temp
// files). No leading or trailing "/", no empty segments. The character set is deliberately
// narrow: it needs no URL encoding and means the same thing on every file system.

import { StrataError } from "../../core/errors.ts";

export const MAX_OBJECT_KEY_LENGTH = 512;
/** File-name limit (255 bytes on common file systems) minus room for a temp-file suffix. */
export const MAX_SEGMENT_LENGTH = 200;

const SEGMENT = /^[A-Za-z0-9_=+@,~-][A-Za-z0-9._=+@,~-]*$/;

export function validateObjectKey(key: string): void {
  if (typeof key !== "string" || key.length === 0) throw bad("object key must be a non-empty string");
  if (key.length > MAX_OBJECT_KEY_LENGTH) {
    throw bad(`object key is ${key.length} characters long; at most ${MAX_OBJECT_KEY_LENGTH} allowed`);
  }
  for (const segment of key.split("/")) {
    if (segment.length === 0) throw bad(`object key ${quote(key)} has an empty segment (leading, trailing or double "/")`);
    if (segment.length > MAX_SEGMENT_LENGTH) {
      throw bad(`object key ${quote(key)} has a segment longer than ${MAX_SEGMENT_LENGTH} characters`);
    }
    if (!SEGMENT.test(segment)) {
      throw bad(`object key ${quote(key)} has an invalid segment ${quote(segment)} (allowed: [A-Za-z0-9._=+@,~-], not starting with ".")`);
    }
  }
}

/** A list prefix: "" or a string that could begin a valid key (so it may end with "/"). */
export function validateObjectPrefix(prefix: string): void {
  if (typeof prefix !== "string") throw bad("object key prefix must be a string");
  if (prefix === "") return;
  validateObjectKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
}

function bad(message: string): StrataError {
  return new StrataError("BAD_REQUEST", message);
}

function quote(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}
