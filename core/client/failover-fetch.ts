// A fetch over several gateway URLs (docs/clients.md#several-gateways). A request goes to the
// current URL (sticky: the last one that answered); it moves to the next URL and is sent again
// when the attempt fails to connect (refused, reset, or no status line within answerTimeoutMs) or
// is answered 503 with a code that says another gateway (or the same one a moment later) can take
// it: NOT_LEADER, LEASE_LOST, UNAVAILABLE, METADATA_UNAVAILABLE. Once every URL of a round failed,
// a jittered backoff (or the 503's Retry-After) comes first. Attempts, total time and rounds in
// which every URL refused the connection are bounded (core/client/failover-limits.ts). Only requests safe to repeat are retried: reads (GET, HEAD),
// and requests marked retry-safe with markRetrySafe (a publish carrying an idempotent producer,
// which the gateway answers with the first attempt's offsets); any other request is sent again
// only when its connection was refused, since then it provably never reached a gateway.
import { getLogger } from "@logtape/logtape";
import { ERROR_STATUS } from "../errors.ts";
import { type FailoverLimits, resolveFailoverLimits } from "./failover-limits.ts";
import { GatewayEndpoints } from "./gateway-urls.ts";

const log = getLogger(["strata", "client", "failover"]);

/** The 503 codes after which a request goes to another gateway (or the same one, later). */
export const FAILOVER_CODES: ReadonlySet<string> = new Set(["NOT_LEADER", "LEASE_LOST", "UNAVAILABLE", "METADATA_UNAVAILABLE"]);

const retrySafe = new WeakSet<RequestInit>();

/** Marks `init` as safe to send again after any failure (e.g. a publish with an idempotent producer); answers it. */
export function markRetrySafe<T extends RequestInit>(init: T): T {
  retrySafe.add(init);
  return init;
}

/** What an attempt came to, for the retry decision. */
type Outcome =
  | { readonly kind: "answered"; readonly response: Response }
  | { readonly kind: "busy"; readonly response: Response; readonly code: string; readonly retryAfterMs: number | undefined }
  | { readonly kind: "refused"; readonly error: unknown }
  | { readonly kind: "lost"; readonly error: unknown }
  /** The caller's signal ended the attempt; a timeout (not a deliberate abort) still counts against the gateway. */
  | { readonly kind: "aborted"; readonly error: unknown; readonly timedOut: boolean };

/** Which failures a request may be sent again after. */
type Safety = "any-failure" | "refused-only" | "never";

/** What each attempt is sent through: the global fetch, one trusting a private CA, hono's fetch option. */
export type FetchLike = (input: string, init?: RequestInit) => Response | Promise<Response>;

export interface FailoverFetchOptions {
  /** The fetch each attempt goes through (e.g. one trusting a private CA); the global fetch by default. */
  readonly fetch?: FetchLike;
  /** Overrides of the retry limits (failover-limits.ts); checked here. */
  readonly limits?: Partial<FailoverLimits>;
}

export type FailoverFetch = typeof fetch & { readonly endpoints: GatewayEndpoints; readonly limits: FailoverLimits };

const DEPTH = 8;

function field(value: unknown, name: "code" | "message" | "cause" | "error" | "name"): unknown {
  return typeof value === "object" && value !== null ? Reflect.get(value, name) : undefined;
}

/** Whether a fetch failure is a refused connection (Bun: code ECONNREFUSED; Node: cause.code; Deno: the cause's message). */
export function isConnectionRefused(error: unknown): boolean {
  let e: unknown = error;
  for (let depth = 0; e !== undefined && e !== null && depth < DEPTH; depth++, e = field(e, "cause")) {
    const code = String(field(e, "code") ?? "");
    if (code === "ECONNREFUSED" || code === "ConnectionRefused") return true;
    if (/connection refused|ECONNREFUSED/i.test(String(field(e, "message") ?? ""))) return true;
  }
  return false;
}

/** Retry-After as seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The gateway's error code in a 503 answer (read from a clone), or UNAVAILABLE when its body is not a gateway error (a load balancer's page). */
async function busyCode(response: Response): Promise<string> {
  try {
    const body: unknown = JSON.parse(await response.clone().text());
    const code = field(field(body, "error"), "code");
    if (typeof code === "string" && Object.hasOwn(ERROR_STATUS, code)) return code;
  } catch {
    // not JSON: a proxy's own 503
  }
  return "UNAVAILABLE";
}

function safetyOf(method: string, init: RequestInit | undefined): Safety {
  if (init?.body instanceof ReadableStream) return "never"; // read once, cannot be sent again
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") return "any-failure";
  return init !== undefined && retrySafe.has(init) ? "any-failure" : "refused-only";
}

/** Full jitter up to the round's step, never below half the first step. */
function backoffMs(round: number, limits: FailoverLimits): number {
  const ceiling = Math.min(limits.backoffMaxMs, limits.backoffInitialMs * 2 ** Math.min(round, 30));
  const floor = limits.backoffInitialMs / 2;
  return Math.round(floor + Math.random() * Math.max(0, ceiling - floor));
}

function delay(ms: number, signal: AbortSignal | null | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * A fetch for requests to any of `urls` (a URL, a comma-separated list or an array): a request
 * whose URL starts with one of them is sent to the current gateway and fails over as described
 * above; any other URL (an object store's presigned URL, say) goes through unchanged.
 */
export function failoverFetch(urls: string | readonly string[] | GatewayEndpoints, options: FailoverFetchOptions = {}): FailoverFetch {
  const endpoints = urls instanceof GatewayEndpoints ? urls : new GatewayEndpoints(urls);
  const limits = resolveFailoverLimits(options.limits);
  const inner = async (input: string, init: RequestInit): Promise<Response> => (options.fetch ?? fetch)(input, init);

  async function attempt(url: string, init: RequestInit): Promise<Outcome> {
    // The answer timeout covers the wait for the status line only: a long body may take longer.
    const noAnswer = new AbortController();
    const timer = setTimeout(() => noAnswer.abort(new DOMException(`no answer within ${limits.answerTimeoutMs} ms`, "TimeoutError")), limits.answerTimeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, noAnswer.signal]) : noAnswer.signal;
    try {
      const response = await inner(url, { ...init, signal });
      if (response.status !== 503) return { kind: "answered", response };
      const code = await busyCode(response);
      if (!FAILOVER_CODES.has(code)) return { kind: "answered", response };
      return { kind: "busy", response, code, retryAfterMs: retryAfterMs(response.headers.get("retry-after")) };
    } catch (error) {
      if (init.signal?.aborted) return { kind: "aborted", error, timedOut: field(init.signal.reason, "name") === "TimeoutError" };
      return isConnectionRefused(error) ? { kind: "refused", error } : { kind: "lost", error };
    } finally {
      clearTimeout(timer);
    }
  }

  async function send(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    if (input instanceof Request) {
      // A Request's body can be read once: take it as bytes so that a retry can send it again.
      const body = input.method === "GET" || input.method === "HEAD" ? undefined : await input.arrayBuffer();
      const rebuilt: RequestInit = { method: input.method, headers: input.headers, signal: input.signal, ...(body ? { body } : {}), ...init };
      if (init !== undefined && retrySafe.has(init)) retrySafe.add(rebuilt);
      return send(input.url, rebuilt);
    }
    const href = String(input);
    const target = endpoints.split(href);
    const request = init ?? {};
    if (!target) return inner(href, request);
    const safety = safetyOf((request.method ?? "GET").toUpperCase(), request);
    const deadline = Date.now() + limits.maxTotalMs;
    let url = endpoints.current();
    let triedThisRound = 0;
    let refusedThisRound = 0;
    let refusedRounds = 0;
    let round = 0;
    for (let n = 1; ; n++) {
      const outcome = await attempt(`${url}${target.rest}`, request);
      if (outcome.kind === "answered") {
        endpoints.answered(url);
        return outcome.response;
      }
      if (outcome.kind === "aborted") {
        // The caller's timeout says this gateway did not answer in time: the next call tries another.
        if (outcome.timedOut) endpoints.failed(url);
        throw outcome.error;
      }
      const retryable = safety === "any-failure" || (safety === "refused-only" && outcome.kind === "refused");
      const reason = outcome.kind === "busy" ? `503 ${outcome.code}` : outcome.kind === "refused" ? "connection refused" : String(field(outcome.error, "message") ?? outcome.error);
      const failedUrl = url;
      url = endpoints.failed(failedUrl);
      triedThisRound++;
      if (outcome.kind === "refused") refusedThisRound++;
      // Wait only once every URL of this round has failed (a dead first URL costs nothing), or as a 503 asks.
      let waitMs = 0;
      if (triedThisRound >= endpoints.urls.length) {
        if (refusedThisRound === triedThisRound) refusedRounds++;
        waitMs = backoffMs(round++, limits);
        triedThisRound = 0;
        refusedThisRound = 0;
      }
      if (outcome.kind === "busy" && outcome.retryAfterMs !== undefined) waitMs = Math.max(waitMs, Math.min(outcome.retryAfterMs, limits.maxRetryAfterMs));
      if (!retryable || n >= limits.maxAttempts || refusedRounds >= limits.refusedRounds || Date.now() + waitMs > deadline) {
        if (outcome.kind === "busy") return outcome.response;
        throw outcome.error;
      }
      if (outcome.kind === "busy") await outcome.response.body?.cancel();
      log.debug("{method} {rest}: {url} failed ({reason}); attempt {next} goes to {to} in {wait} ms", { method: request.method ?? "GET", rest: target.rest, url: failedUrl, reason, next: n + 1, to: url, wait: waitMs });
      await delay(waitMs, request.signal);
      if (request.signal?.aborted) throw request.signal.reason;
    }
  }

  return Object.assign(send, { endpoints, limits, preconnect: fetch.preconnect });
}
