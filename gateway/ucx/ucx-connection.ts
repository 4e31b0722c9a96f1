// One client endpoint of the UCX server: a hello (with the bearer token when auth is on), then
// requests answered in any order by id. An answer up to ucx.inlineMaxBytes rides in the answer
// message; a larger one is copied into a registered region of the pool and the client reads it
// with a one-sided get, then sends release (or the region is taken back after the request timeout,
// or when the endpoint closes). Every failure of a request is an error answer with its stable
// code; a message that cannot be read at all is answered with id 0. Nothing a client sends
// crashes the gateway: the worst is this endpoint closed.
import { getLogger } from "@logtape/logtape";
import { invariant, isStrataError, StrataError } from "../../core/errors.ts";
import { clientMessageDecoder, encodeControl } from "../../core/ucx/control-codec.ts";
import { UCX_PROTOCOL_VERSION, type ChunksRequest, type ClientMessage, type GatewayMessage, type SegmentRequest } from "../../core/ucx/control-schemas.ts";
import { Semaphore } from "../../core/util/concurrency.ts";
import type { UcxEndpoint } from "../../native/ucx-api.ts";
import type { LentRegion, RegionPool } from "./region-pool.ts";
import type { AnswerBytes, UcxRequests } from "./ucx-requests.ts";
import type { UcxLimits } from "./ucx-limits.ts";

const log = getLogger(["strata", "ucx"]);

// "refused": the hello failed and its error answer is on the way; the endpoint stays open (reading
// and ignoring) until the client closes it or helloTimeoutMs passes, since closing at once could
// drop the answer in flight.
type ConnectionState =
  | { kind: "awaiting-hello" }
  | { kind: "ready"; token: string | undefined }
  | { kind: "refused"; reason: string }
  | { kind: "closed"; reason: string };

interface Outstanding {
  readonly lent: LentRegion;
  readonly timer: ReturnType<typeof setTimeout>;
}

export interface ConnectionContext {
  readonly requests: UcxRequests;
  readonly pool: RegionPool;
  readonly limits: UcxLimits;
}

export class UcxConnection {
  #state: ConnectionState = { kind: "awaiting-hello" };
  readonly #outstanding = new Map<number, Outstanding>();
  #nextRegion = 1;
  readonly #inFlight: Semaphore;
  readonly #decode: ReturnType<typeof clientMessageDecoder>;

  constructor(
    private readonly endpoint: UcxEndpoint,
    /** Owner id of this endpoint's regions in the pool. */
    private readonly owner: number,
    private readonly ctx: ConnectionContext,
  ) {
    this.#inFlight = new Semaphore(ctx.limits.maxRequestsInFlight);
    this.#decode = clientMessageDecoder(ctx.limits.maxMessageBytes);
  }

  get state(): ConnectionState["kind"] {
    return this.#state.kind;
  }

  /** Serves the endpoint until it closes; resolves then (never rejects). */
  async serve(): Promise<void> {
    const helloTimer = setTimeout(() => void this.#close(this.#state.kind === "refused" ? this.#state.reason : `no hello within ${this.ctx.limits.helloTimeoutMs} ms`), this.ctx.limits.helloTimeoutMs);
    void this.endpoint.closed.then((reason) => this.#closed(reason));
    try {
      while (this.#state.kind !== "closed") {
        let bytes: Uint8Array;
        try {
          // Twice ucx.maxMessageBytes, as the worker's bound was before answers went inline (ucx-server.ts): larger requests close the endpoint.
          bytes = await this.endpoint.receive(2 * this.ctx.limits.maxMessageBytes);
        } catch (e) {
          this.#closed(e instanceof Error ? e.message : String(e));
          break;
        }
        let message: ClientMessage;
        try {
          message = this.#decode.decode(bytes);
        } catch (e) {
          if (this.#state.kind === "refused") continue;
          await this.#answerError(0, e);
          if (this.#state.kind === "awaiting-hello") this.#refuse("unreadable hello");
          continue;
        }
        if (this.#state.kind === "refused") {
          continue;
        } else if (this.#state.kind === "awaiting-hello") {
          await this.#hello(message);
          if (this.state === "ready") clearTimeout(helloTimer);
        } else if (message.t === "hello") {
          await this.#answerError(0, new StrataError("BAD_REQUEST", "hello was already sent on this endpoint"));
        } else if (message.t === "release") {
          this.#release(message.region);
        } else {
          void this.#inFlight.run(() => this.#request(message));
        }
      }
    } finally {
      clearTimeout(helloTimer);
    }
  }

  async #hello(message: ClientMessage): Promise<void> {
    invariant(this.#state.kind === "awaiting-hello", `hello in state ${this.#state.kind}`);
    if (message.t !== "hello") {
      await this.#answerError("id" in message ? message.id : 0, new StrataError("BAD_REQUEST", `the first message must be hello, not '${message.t}'`));
      return this.#refuse("no hello");
    }
    if (message.v !== UCX_PROTOCOL_VERSION) {
      await this.#answerError(0, new StrataError("BAD_REQUEST", `protocol version ${message.v} is not supported (this gateway speaks ${UCX_PROTOCOL_VERSION})`));
      return this.#refuse("unsupported version");
    }
    const token = message.token ?? undefined;
    try {
      await this.ctx.requests.principal(token);
    } catch (e) {
      await this.#answerError(0, e);
      return this.#refuse("hello refused");
    }
    this.#state = { kind: "ready", token };
    const { maxMessageBytes, maxRequestBytes } = this.ctx.limits;
    await this.#send({ t: "welcome", v: UCX_PROTOCOL_VERSION, max_message_bytes: maxMessageBytes, max_request_bytes: maxRequestBytes });
  }

  async #request(request: ChunksRequest | SegmentRequest): Promise<void> {
    if (this.#state.kind !== "ready") return;
    const token = this.#state.token;
    try {
      const answer = await this.ctx.requests.answer(token, request);
      // Without a one-sided path to this client (tcp carries no gets: native/ucx-api.ts getsVia) every answer is inline.
      if (answer.length <= this.ctx.limits.inlineMaxBytes || this.endpoint.getsVia === "none") {
        await this.#send({ t: "inline", id: request.id, data: joined(answer) });
        return;
      }
      const lent = await this.ctx.pool.acquire(this.owner, answer.length, Date.now() + this.ctx.limits.requestTimeoutMs);
      if (this.state === "closed") return this.ctx.pool.giveBack(lent);
      copyInto(lent.region.bytes, answer);
      const region = this.#nextRegion++;
      const timer = setTimeout(() => this.#release(region), this.ctx.limits.requestTimeoutMs);
      this.#outstanding.set(region, { lent, timer });
      const address = Number(lent.region.address);
      invariant(Number.isSafeInteger(address), `region address ${lent.region.address} is not a safe integer`);
      await this.#send({ t: "region", id: request.id, region, address, rkey: lent.region.rkey, length: answer.length });
    } catch (e) {
      await this.#answerError(request.id, e);
    }
  }

  #release(region: number): void {
    const o = this.#outstanding.get(region);
    if (o === undefined) return; // released twice, or taken back after the timeout: nothing to do
    clearTimeout(o.timer);
    this.#outstanding.delete(region);
    this.ctx.pool.giveBack(o.lent);
  }

  async #answerError(id: number, e: unknown): Promise<void> {
    const error = isStrataError(e) ? e : new StrataError("INTERNAL", "internal error");
    if (!isStrataError(e)) log.error("UCX request failed: {error}", { error: e });
    await this.#send({ t: "error", id, code: error.code, message: error.message.slice(0, 4096) });
  }

  async #send(message: GatewayMessage): Promise<void> {
    if (this.#state.kind === "closed") return;
    try {
      await this.endpoint.send(encodeControl(message));
    } catch (e) {
      this.#closed(e instanceof Error ? e.message : String(e));
    }
  }

  /** The hello failed: nothing more is answered; the hello timer (still running) closes the endpoint. */
  #refuse(reason: string): void {
    invariant(this.#state.kind === "awaiting-hello", `refusing in state ${this.#state.kind}`);
    this.#state = { kind: "refused", reason };
  }

  async #close(reason: string): Promise<void> {
    this.#closed(reason);
    await this.endpoint.close().catch(() => undefined);
  }

  /** The endpoint is gone: every region of it goes back to the pool, then is released. */
  #closed(reason: string): void {
    if (this.#state.kind === "closed") return;
    this.#state = { kind: "closed", reason };
    for (const o of this.#outstanding.values()) {
      clearTimeout(o.timer);
      this.ctx.pool.giveBack(o.lent);
    }
    this.#outstanding.clear();
    this.ctx.pool.dropOwner(this.owner);
    log.debug("UCX endpoint closed: {reason}", { reason });
  }
}

function joined(answer: AnswerBytes): Uint8Array {
  if (answer.parts.length === 1) return answer.parts[0]!;
  const out = new Uint8Array(answer.length);
  copyInto(out, answer);
  return out;
}

function copyInto(into: Uint8Array, answer: AnswerBytes): void {
  invariant(into.length >= answer.length, `a ${into.length}-byte region for a ${answer.length}-byte answer`);
  let at = 0;
  for (const p of answer.parts) {
    into.set(p, at);
    at += p.length;
  }
  invariant(at === answer.length, `answer parts hold ${at} bytes, not ${answer.length}`);
}
