// The --token flag (or STRATA_TOKEN) of every command that talks to a gateway, and what a
// refusal of it tells the user to do: a gateway under `strata serve --auth` answers 401
// UNAUTHENTICATED without a valid token and 403 FORBIDDEN for one whose scopes do not cover
// the request.
import { Option } from "commander";
import { z } from "zod";
import { StrataError } from "../core/errors.ts";

export const TOKEN_ENV = "STRATA_TOKEN";

export function tokenOption(): Option {
  return new Option("--token <TOKEN>", "the gateway token (from `strata tokens issue`, or DATA/admin.token)").env(TOKEN_ENV);
}

/** The token as given: surrounding whitespace (a file read with $(cat …)) trimmed; empty means none. */
export const tokenText = z
  .string()
  .transform((text) => text.trim())
  .optional()
  .transform((text) => (text === undefined || text === "" ? undefined : text));

/** The StrataError behind `error` (itself, or along its causes: a publish stopped by one), if any. */
function strataCause(error: unknown): StrataError | null {
  let e = error;
  for (let depth = 0; depth < 8 && e instanceof Error; depth++, e = e.cause) if (e instanceof StrataError) return e;
  return null;
}

/** What to do about a refused token, to follow the gateway's own message; null for other errors. */
export function tokenAdvice(failure: unknown): string | null {
  const error = strataCause(failure);
  if (error === null) return null;
  if (error.code === "UNAUTHENTICATED") return `pass a valid token with --token TOKEN or ${TOKEN_ENV} (an admin issues one with \`strata tokens issue\`)`;
  if (error.code === "FORBIDDEN") return "the token's scopes do not cover this request: ask an admin for one that does (`strata tokens issue --scope ACTION:STREAMS`)";
  return null;
}
