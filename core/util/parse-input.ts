// Untrusted input through a zod schema: the schema is the one source of the input's type, and a
// mismatch is a BAD_REQUEST that names where and what was expected (`records[0].fields:
// expected record, received string`), never a crash further in.
import type { z } from "zod";
import { StrataError } from "../errors.ts";

/** Issues listed in one message, at most; the rest are counted. */
const MAX_ISSUES_LISTED = 3;

export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new StrataError("BAD_REQUEST", `${what}: ${describeIssues(result.error.issues)}`);
  return result.data;
}

/** An issue of zod or of any Standard Schema library: a message and where. */
export interface InputIssue {
  readonly message: string;
  readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined;
}

export function describeIssues(issues: readonly InputIssue[]): string {
  const listed = issues.slice(0, MAX_ISSUES_LISTED).map((issue) => {
    const at = issuePath(issue.path ?? []);
    return at === "" ? issue.message : `${at}: ${issue.message}`;
  });
  const more = issues.length - listed.length;
  return listed.join("; ") + (more > 0 ? `; and ${more} more` : "");
}

/** `records[0].fields` */
export function issuePath(path: readonly (PropertyKey | { readonly key: PropertyKey })[]): string {
  let out = "";
  for (const segment of path) {
    const part = typeof segment === "object" ? segment.key : segment;
    out += typeof part === "number" ? `[${part}]` : out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}
