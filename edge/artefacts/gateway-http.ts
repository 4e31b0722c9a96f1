// HTTP to a gateway for the artefact client: one base URL, a timeout per request, retries of
// idempotent requests on network errors and 5xx answers, and error bodies
// `{"error": {"code", "message"}}` turned into StrataErrors.
import { ERROR_STATUS, type ErrorCode, StrataError } from "../../core/errors.ts";
import { fetchTrusting } from "../transports/ca-fetch.ts";

export interface RequestOptions {
  readonly method: "GET" | "POST" | "PUT" | "HEAD" | "DELETE";
  readonly body?: Uint8Array | string;
  readonly contentType?: string;
  readonly accept?: string;
  /** Safe to send again after a network error or a 5xx (default true). */
  readonly idempotent?: boolean;
  readonly signal?: AbortSignal;
  /** Non-2xx statuses returned to the caller (body unread) instead of thrown. */
  readonly passStatuses?: readonly number[];
}

export interface GatewayHttpOptions {
  readonly requestTimeoutMs: number;
  readonly attempts: number;
  /** fetch to use (default: globalThis.fetch). */
  readonly fetch?: typeof fetch;
  /** PEM of a CA to trust for an https:// gateway with its own certificate (`--ca FILE`); ignored with `fetch`. */
  readonly ca?: string;
  /** A gateway token, sent as `Authorization: Bearer TOKEN` on every request. */
  readonly token?: string;
}

const RETRY_BASE_MS = 200;
/** The longest Retry-After honoured at once (a larger one is capped: the wait stays responsive). */
const MAX_RETRY_AFTER_MS = 5_000;

/** The wait a 503 asks for with Retry-After (seconds), capped; undefined for any other answer. */
function busyRetryAfterMs(response: Response): number | undefined {
  if (response.status !== 503) return undefined;
  const header = response.headers.get("retry-after");
  if (header === null) return undefined;
  const seconds = Number(header);
  if (!Number.isFinite(seconds) || seconds < 0) return undefined;
  // Jitter spreads the retries of concurrent transfers that were refused together.
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(50, seconds * 1000 * (0.5 + Math.random() / 2)));
}

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_STATUS, code);
}

/** The gateway's error for a non-2xx response (its body is read and discarded). */
export async function errorFromResponse(response: Response, what: string): Promise<StrataError> {
  const text = await response.text().catch(() => "");
  let code: ErrorCode = response.status >= 500 ? "UNAVAILABLE" : "BAD_REQUEST";
  let message = `${what}: gateway answered HTTP ${response.status}`;
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (isErrorCode(body.error?.code)) code = body.error.code;
    if (typeof body.error?.message === "string") message = `${what}: ${body.error.message}`;
  } catch {
    if (text.length > 0) message += `: ${text.slice(0, 200)}`;
  }
  return new StrataError(code, message);
}

/** The Authorization header's value for `token`. */
export function bearer(token: string): string {
  return `Bearer ${token}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class GatewayHttp {
  readonly baseUrl: string;
  readonly #options: GatewayHttpOptions;
  /** The given fetch, or one trusting the CA; undefined: the global fetch at call time. */
  readonly #fetch: typeof fetch | undefined;

  constructor(baseUrl: string, options: GatewayHttpOptions) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new StrataError("BAD_REQUEST", `gateway URL is not a URL: ${baseUrl}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new StrataError("BAD_REQUEST", `gateway URL must be http(s), got ${baseUrl}`);
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.#options = options;
    this.#fetch = options.fetch ?? (options.ca !== undefined ? fetchTrusting(options.ca) : undefined);
  }

  /**
   * Sends a request and returns the 2xx response (its body unread). A non-2xx answer throws
   * the gateway's error; network errors and 5xx answers of idempotent requests are retried.
   */
  async request(path: string, options: RequestOptions, what: string): Promise<Response> {
    const attempts = options.idempotent === false ? 1 : this.#options.attempts;
    const doFetch = this.#fetch ?? fetch;
    let lastError: unknown;
    let busyWaitedMs = 0;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (options.signal?.aborted) throw options.signal.reason;
      const timeout = AbortSignal.timeout(this.#options.requestTimeoutMs);
      const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
      const headers: Record<string, string> = {};
      if (options.contentType) headers["content-type"] = options.contentType;
      if (options.accept) headers.accept = options.accept;
      if (this.#options.token !== undefined) headers.authorization = bearer(this.#options.token);
      let response: Response;
      try {
        response = await doFetch(`${this.baseUrl}${path}`, {
          method: options.method,
          headers,
          ...(options.body !== undefined ? { body: options.body as BodyInit } : {}),
          signal,
        });
      } catch (e) {
        if (options.signal?.aborted) throw options.signal.reason;
        lastError = new StrataError("UNAVAILABLE", `${what}: ${timeout.aborted ? `no answer within ${this.#options.requestTimeoutMs} ms` : (e as Error).message}`, { cause: e });
        if (attempt < attempts) await sleep(RETRY_BASE_MS * 2 ** (attempt - 1));
        continue;
      }
      if (response.ok || options.passStatuses?.includes(response.status)) return response;
      const retryAfterMs = busyRetryAfterMs(response);
      const error = await errorFromResponse(response, what);
      // A gateway at its in-flight bound (503 with Retry-After) is back-pressure, not a failure:
      // wait as it asks, without spending an attempt, for up to requestTimeoutMs in all.
      if (retryAfterMs !== undefined && options.idempotent !== false && busyWaitedMs + retryAfterMs <= this.#options.requestTimeoutMs) {
        busyWaitedMs += retryAfterMs;
        lastError = error;
        attempt--;
        await sleep(retryAfterMs);
        continue;
      }
      if (response.status < 500 || attempt === attempts) throw error;
      lastError = error;
      await sleep(RETRY_BASE_MS * 2 ** (attempt - 1));
    }
    throw lastError;
  }
}
