// Forwards one partition's records (and proxies its reads) to its leader in cluster mode (docs/cluster.md): a client-built
// batch POSTed to the leader's publish route with `strata-forwarded: 1` (the leader never forwards
// it again) and the caller's Authorization. Bounded: at most cluster.maxForwardsInFlight at once
// (past it UNAVAILABLE), each within cluster.forwardTimeoutMs. A leader that does not answer
// (refused, reset, timed out) is NOT_LEADER: the lease map is stale or the leader died, and the
// client retries (its producer sequence makes the retry safe).
import { getLogger } from "@logtape/logtape";
import { z } from "zod";
import { StrataError } from "../../core/errors.ts";
import { CLIENT_BATCH_MEDIA_TYPE } from "../../core/log/client-batch.ts";
import { gatewayAnswer } from "../client/gateway-call.ts";
import { FORWARDED_HEADER, type ForwardedBatch, type ForwardedPosition, type PartitionForwarder, type ProxiedRequest } from "../streams/partition-route.ts";
import type { ClusterLimits } from "./cluster-limits.ts";

const log = getLogger(["strata", "cluster", "forward"]);

const publishAnswerSchema = z.object({
  records: z.array(z.object({ partition: z.number().int().nonnegative(), offset: z.number().int().nonnegative() })),
});

/** Headers of one connection, never passed on (RFC 9110 7.6.1), and the lengths and encodings fetch recomputes. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length", "content-encoding"]);

export class HttpPartitionForwarder implements PartitionForwarder {
  #inFlight = 0;
  readonly #limits: Pick<ClusterLimits, "forwardTimeoutMs" | "maxForwardsInFlight">;
  readonly #fetch: typeof fetch;

  constructor(limits: Pick<ClusterLimits, "forwardTimeoutMs" | "maxForwardsInFlight">, fetchImpl: typeof fetch = fetch) {
    this.#limits = limits;
    this.#fetch = fetchImpl;
  }

  /** Forwards in flight right now (for tests and metrics). */
  get inFlight(): number {
    return this.#inFlight;
  }

  forward(leader: { readonly url: string; readonly node: string }, batch: ForwardedBatch): Promise<ForwardedPosition[]> {
    return this.#counted(() => this.#send(leader, batch));
  }

  async proxy(leader: { readonly url: string; readonly node: string }, request: ProxiedRequest): Promise<Response> {
    return this.#counted(() => this.#proxy(leader, request));
  }

  async #proxy(leader: { readonly url: string; readonly node: string }, request: ProxiedRequest): Promise<Response> {
    const headers = new Headers();
    request.headers.forEach((value, name) => {
      if (!HOP_BY_HOP.has(name)) headers.set(name, value);
    });
    headers.set(FORWARDED_HEADER, "1");
    // The body goes back to the caller byte for byte: nothing for fetch to decode on the way.
    headers.set("accept-encoding", "identity");
    const url = `${leader.url.replace(/\/+$/, "")}${request.pathAndQuery}`;
    // Until the leader's headers arrive the request is bounded by the forward timeout (plus the
    // long poll it asked for); then the body streams for as long as the caller reads it.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`no answer within ${this.#limits.forwardTimeoutMs + request.extraWaitMs} ms`)), this.#limits.forwardTimeoutMs + request.extraWaitMs);
    const onCallerGone = () => abort.abort(new Error("the caller went away"));
    request.signal?.addEventListener("abort", onCallerGone, { once: true });
    try {
      const response = await this.#fetch(url, { method: request.method, headers, signal: abort.signal });
      const answer = new Headers(response.headers);
      for (const name of HOP_BY_HOP) answer.delete(name);
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers: answer });
    } catch (e) {
      log.debug("proxy failed: {url}: {error}", { url, error: e });
      throw new StrataError("NOT_LEADER", `a read of ${request.pathAndQuery} proxied to its leader ${leader.node} (${leader.url}) got no answer (${e instanceof Error ? e.message : String(e)}); retry`);
    } finally {
      clearTimeout(timer);
    }
  }

  async #counted<T>(work: () => Promise<T>): Promise<T> {
    if (this.#inFlight >= this.#limits.maxForwardsInFlight) {
      throw new StrataError("UNAVAILABLE", `this gateway already forwards ${this.#limits.maxForwardsInFlight} requests to leaders (cluster.maxForwardsInFlight); retry`);
    }
    this.#inFlight++;
    try {
      return await work();
    } finally {
      this.#inFlight--;
    }
  }

  async #send(leader: { readonly url: string; readonly node: string }, batch: ForwardedBatch): Promise<ForwardedPosition[]> {
    const url = `${leader.url.replace(/\/+$/, "")}/v1/streams/${encodeURIComponent(batch.stream)}/records?partition=${batch.partition}&acks=${batch.acks}`;
    const headers: Record<string, string> = { "content-type": CLIENT_BATCH_MEDIA_TYPE, accept: "application/json", [FORWARDED_HEADER]: "1" };
    if (batch.authorization !== undefined) headers.authorization = batch.authorization;
    const what = `partition ${batch.partition} of '${batch.stream}' forwarded to its leader ${leader.node} (${leader.url})`;
    let response: Response;
    try {
      // fetch takes bytes over an ArrayBuffer (not a SharedArrayBuffer): a view of the same memory, never a copy here.
      const body = batch.body.buffer instanceof ArrayBuffer ? new Uint8Array(batch.body.buffer, batch.body.byteOffset, batch.body.byteLength) : batch.body.slice();
      response = await this.#fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(this.#limits.forwardTimeoutMs) });
    } catch (e) {
      log.debug("forward failed: {what}: {error}", { what, error: e });
      throw new StrataError("NOT_LEADER", `${what}: no answer (${e instanceof Error ? e.message : String(e)}); retry`);
    }
    try {
      const { value } = await gatewayAnswer(response, publishAnswerSchema, what);
      return value.records;
    } catch (e) {
      // A body cut short by a reset or the timeout: the leader may have appended, the retry dedupes.
      if (e instanceof StrataError) throw e;
      throw new StrataError("NOT_LEADER", `${what}: the answer was cut short (${e instanceof Error ? e.message : String(e)}); retry`);
    }
  }
}
