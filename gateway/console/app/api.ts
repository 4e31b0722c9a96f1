// The console's only way to the gateway: GET requests to the JSON API under /v1 (relative to the
// console's own URL, so it works behind a path prefix), each with the tab's bearer token, each
// answer checked against a zod schema. A refused or failed request becomes a ConsoleApiError
// whose message says what to do (401: enter a token; 403: the token's scopes).
import type { z } from "zod";
import { apiErrorSchema } from "./schemas.ts";
import { storedToken } from "./token.ts";

export class ConsoleApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ConsoleApiError";
  }
}

/** What a refused request means to the person at the console. */
function explain(status: number, code: string, message: string, path: string): string {
  if (status === 401) return `${status} ${code}: ${message}. This gateway runs with --auth: enter a token above (strata tokens issue --scope consume:'>' …).`;
  if (status === 403) return `${status} ${code}: ${message}. The token's scopes do not allow ${path}; use a token with consume (or metrics) on these streams.`;
  return `${status} ${code}: ${message}`;
}

export class ConsoleApi {
  readonly #base: URL;

  /** `pageUrl`: the console page's URL; the API is `../v1/` from `/console/`. */
  constructor(pageUrl: string) {
    this.#base = new URL("../v1/", pageUrl);
  }

  /** GET `path` (below /v1/, with its query) and validate the JSON answer. */
  async get<S extends z.ZodType>(path: string, schema: S, signal?: AbortSignal): Promise<z.output<S>> {
    const token = storedToken();
    const headers: Record<string, string> = { accept: "application/json" };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    let response: Response;
    try {
      response = await fetch(new URL(path, this.#base), { headers, signal });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new ConsoleApiError(0, "UNREACHABLE", `the gateway did not answer GET /v1/${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const body: unknown = await response.json().catch(() => null);
    if (!response.ok) {
      const error = apiErrorSchema.safeParse(body);
      const code = error.success ? error.data.error.code : "HTTP_ERROR";
      const message = error.success ? error.data.error.message : response.statusText;
      throw new ConsoleApiError(response.status, code, explain(response.status, code, message, `GET /v1/${path}`));
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new ConsoleApiError(response.status, "BAD_ANSWER", `GET /v1/${path} answered an unexpected shape: ${parsed.error.message}`);
    return parsed.data;
  }
}

/** Path segment encoding for stream names (they contain `/`). */
export function segment(value: string | number): string {
  return encodeURIComponent(String(value));
}
