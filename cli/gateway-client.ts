// What the client commands share: the gateway URL and turning error responses into messages.
import { StrataError, type ErrorCode } from "../core/errors.ts";
import { createClient, type StrataClient } from "../gateway/client.ts";
import { flag, type ParsedArgs } from "./command.ts";

export const DEFAULT_GATEWAY = "http://127.0.0.1:7070";

export function gatewayUrl(parsed: ParsedArgs): string {
  return (flag(parsed, "gateway") ?? process.env.STRATA_GATEWAY ?? DEFAULT_GATEWAY).replace(/\/+$/, "");
}

export function clientFor(parsed: ParsedArgs): StrataClient {
  return createClient(gatewayUrl(parsed));
}

/** Returns the parsed JSON body of a 2xx response; throws the gateway's error otherwise. */
export async function expectOk<T>(response: { ok: boolean; status: number; json(): Promise<unknown> }): Promise<T> {
  const body = (await response.json().catch(() => undefined)) as { error?: { code: ErrorCode; message: string } } | undefined;
  if (!response.ok) {
    const error = body?.error;
    throw new StrataError(error?.code ?? "INTERNAL", error?.message ?? `gateway answered HTTP ${response.status}`);
  }
  return body as T;
}
