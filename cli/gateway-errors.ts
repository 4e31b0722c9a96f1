// A gateway that cannot be reached, said the way a user can act on: which URL, why (as the
// runtime's fetch reports it: Bun, Deno and Node word it differently), and what to do.
import { StrataError } from "../core/errors.ts";

const DEPTH = 8;

const REASONS: readonly { readonly codes: readonly string[]; readonly text: RegExp; readonly reason: string }[] = [
  { codes: ["ECONNREFUSED", "ConnectionRefused"], text: /connection refused|ECONNREFUSED/i, reason: "connection refused" },
  { codes: ["ENOTFOUND", "EAI_AGAIN", "EAI_NONAME"], text: /ENOTFOUND|dns error|name or service not known|failed to lookup address/i, reason: "host not found" },
  { codes: ["ECONNRESET", "ConnectionClosed", "EPIPE"], text: /connection reset|ECONNRESET|socket hang up|connection closed/i, reason: "connection reset" },
  { codes: ["EHOSTUNREACH", "ENETUNREACH"], text: /unreachable/i, reason: "host unreachable" },
  { codes: ["ETIMEDOUT", "TimeoutError", "UND_ERR_CONNECT_TIMEOUT"], text: /timed out|no answer within/i, reason: "no answer in time" },
  { codes: [], text: /are blocked|bad port/i, reason: "fetch refuses that port" },
];

function field(value: unknown, name: "code" | "name" | "message" | "cause"): unknown {
  return typeof value === "object" && value !== null ? Reflect.get(value, name) : undefined;
}

/** Why a request never got an answer ("connection refused", …), or null when it is not a network failure. */
export function unreachableReason(error: unknown): string | null {
  let e: unknown = error;
  for (let depth = 0; e !== undefined && e !== null && depth < DEPTH; depth++, e = field(e, "cause")) {
    const code = String(field(e, "code") ?? field(e, "name") ?? "");
    const message = String(field(e, "message") ?? "");
    for (const r of REASONS) if (r.codes.includes(code) || r.text.test(message)) return r.reason;
  }
  return null;
}

/** The gateway at `url` did not answer; the message says what to do about it. */
export class GatewayUnreachableError extends StrataError {
  readonly url: string;

  constructor(url: string, reason: string, cause: unknown) {
    super("UNAVAILABLE", `cannot reach the gateway at ${url} (${reason}): start one with \`strata serve\`, or pass --gateway URL (or set STRATA_GATEWAY)`, { cause });
    this.url = url;
  }
}

/** `error`, or a GatewayUnreachableError naming `url` when it is a network failure. */
export function explainUnreachable(url: string, error: unknown): unknown {
  if (error instanceof GatewayUnreachableError) return error;
  const reason = unreachableReason(error);
  return reason === null ? error : new GatewayUnreachableError(url, reason, error);
}

/** Runs `work`, turning a network failure into the message above. */
export async function withGateway<T>(url: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw explainUnreachable(url, e);
  }
}
