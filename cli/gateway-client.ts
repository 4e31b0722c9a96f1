// What the client commands share: a typed client for the gateway, and answers checked against
// their schemas (an error answer becomes the gateway's StrataError with its code).
import { readFileSync } from "node:fs";
import { Option } from "commander";
import { z } from "zod";
import { ERROR_STATUS, type ErrorCode, StrataError } from "../core/errors.ts";
import { fetchTrusting } from "../edge/transports/ca-fetch.ts";
import { createClient, type StrataClient } from "../gateway/client.ts";

/** --ca FILE of every command that talks to a gateway over HTTP(S). */
export function caOption(): Option {
  return new Option("--ca <FILE>", "PEM certificate to trust for an https:// gateway with its own certificate (strata serve --tls-cert)");
}

/** --ca's value: the PEM text of the file, read when the flags are checked (an unreadable file is a usage error). */
export const caFileText = z
  .string()
  .optional()
  .transform((file, ctx) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file, "utf8");
    } catch (e) {
      ctx.issues.push({ code: "custom", message: `cannot read ${file}: ${(e as Error).message}`, input: file });
      return z.NEVER;
    }
  });

/**
 * The typed client for the gateway at `url`, sending `token` (when given) as `Authorization: Bearer`
 * and trusting the CA `ca` (PEM, when given) for https://.
 */
export function clientFor(url: string, token: string | undefined, ca?: string): StrataClient {
  return createClient(url, { ...(token === undefined ? {} : { token }), ...(ca === undefined ? {} : { fetch: fetchTrusting(ca) }) });
}

const errorAnswer = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_STATUS, code);
}

/** The body of a 2xx answer, checked against `schema`; the gateway's error otherwise. */
export async function expectOk<S extends z.ZodType>(response: { ok: boolean; status: number; json(): Promise<unknown> }, schema: S, what: string): Promise<z.output<S>> {
  let body: unknown;
  let unreadable: unknown = null;
  try {
    body = await response.json();
  } catch (e) {
    unreadable = e;
  }
  if (!response.ok) {
    const answer = errorAnswer.safeParse(body);
    if (answer.success) throw new StrataError(isErrorCode(answer.data.error.code) ? answer.data.error.code : "INTERNAL", answer.data.error.message);
    throw new StrataError(response.status >= 500 ? "UNAVAILABLE" : "BAD_REQUEST", `${what}: gateway answered HTTP ${response.status}`);
  }
  // A body cut short (the gateway went away mid-answer) is worth a retry, unlike a wrong one.
  if (unreadable !== null) throw new StrataError("UNAVAILABLE", `${what}: the answer was cut short or is not JSON`, { cause: unreadable });
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new StrataError("CORRUPT_DATA", `${what}: unexpected answer: ${parsed.error.issues[0]?.message ?? "malformed"}`);
  return parsed.data;
}
