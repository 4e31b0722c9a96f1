// The client end of the UCX control protocol, shared by `strata pull --via ucx://` and the
// segment reader: hello (with the bearer token), then requests by id, answered in any order. A
// region answer is read with a one-sided get into a registered landing buffer, copied out, and
// released at the gateway at once. Core may not import native/, so the endpoint and its regions
// are described here by what the session uses (native/ucx-api.ts's UcxEndpoint fits).
import { invariant, isStrataError, StrataError, type ErrorCode, ERROR_STATUS } from "../errors.ts";
import { encodeControl, gatewayMessageDecoder } from "./control-codec.ts";
import { UCX_PROTOCOL_VERSION, type ChunksRequest, type GatewayMessage, type SegmentRequest } from "./control-schemas.ts";

/** A local registered buffer a get lands in. */
export interface LandingRegion {
  readonly bytes: Uint8Array;
  release(): void;
}

export interface SessionEndpoint<R extends LandingRegion> {
  send(message: Uint8Array): Promise<void>;
  receive(): Promise<Uint8Array>;
  get(into: R, offset: number, length: number, remoteAddress: bigint, rkey: Uint8Array): Promise<void>;
  close(): Promise<void>;
  readonly closed: Promise<string>;
}

export interface SessionOptions<R extends LandingRegion> {
  /** A registered buffer of `length` bytes (the worker's allocate). */
  readonly allocate: (length: number) => R;
  /** Sent in the hello; required when the gateway has auth on. */
  readonly token?: string | undefined;
  /** Largest answer message accepted (inline answers included). */
  readonly maxMessageBytes: number;
  /** Time the hello and each request may take. */
  readonly timeoutMs: number;
}

const MIN_LANDING_BYTES = 1 << 20;
/** Landing buffers kept idle: enough for the reads a pull keeps in flight. */
const MAX_IDLE_LANDINGS = 8;

type SessionState = { kind: "opening" } | { kind: "open" } | { kind: "closed"; error: StrataError };

export type SessionRequest = Omit<ChunksRequest, "id"> | Omit<SegmentRequest, "id">;

interface Pending {
  readonly resolve: (m: GatewayMessage) => void;
  readonly reject: (e: StrataError) => void;
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_STATUS, code);
}

/** The gateway's error answer as a StrataError (an unknown code is kept in the message). */
function answerError(m: Extract<GatewayMessage, { t: "error" }>): StrataError {
  return isErrorCode(m.code) ? new StrataError(m.code, m.message) : new StrataError("UNAVAILABLE", `${m.code}: ${m.message}`);
}

export class UcxSession<R extends LandingRegion> {
  #state: SessionState = { kind: "opening" };
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  /** Registered buffers kept between reads (registration is the costly step). */
  readonly #idleLandings: R[] = [];
  readonly #decoder: ReturnType<typeof gatewayMessageDecoder>;

  private readonly endpoint: SessionEndpoint<R>;
  private readonly options: SessionOptions<R>;

  private constructor(endpoint: SessionEndpoint<R>, options: SessionOptions<R>) {
    this.endpoint = endpoint;
    this.options = options;
    this.#decoder = gatewayMessageDecoder(options.maxMessageBytes);
  }

  /** Says hello and waits for the welcome; a refused hello throws the gateway's error (UNAUTHENTICATED, FORBIDDEN, ...). */
  static async open<R extends LandingRegion>(endpoint: SessionEndpoint<R>, options: SessionOptions<R>): Promise<UcxSession<R>> {
    const session = new UcxSession(endpoint, options);
    const welcome = session.#expect(0);
    void session.#readLoop();
    void endpoint.closed.then((reason) => session.#fail(new StrataError("UCX_UNAVAILABLE", `UCX connection closed: ${reason}`)));
    await endpoint.send(encodeControl({ t: "hello", v: UCX_PROTOCOL_VERSION, token: options.token ?? null }));
    const answer = await session.#withTimeout(welcome, "hello");
    if (answer.t === "error") {
      const error = answerError(answer);
      await session.close(error);
      throw error;
    }
    invariant(answer.t === "welcome", `a '${answer.t}' answer to hello`);
    session.#state = { kind: "open" };
    return session;
  }

  get state(): SessionState["kind"] {
    return this.#state.kind;
  }

  /** The answer's bytes (a fresh copy the caller owns). */
  async request(request: SessionRequest): Promise<Uint8Array> {
    if (this.#state.kind === "closed") throw this.#state.error;
    invariant(this.#state.kind === "open", `request on a ${this.#state.kind} session`);
    const id = this.#nextId++;
    const answered = this.#expect(id);
    await this.endpoint.send(encodeControl({ ...request, id }));
    const answer = await this.#withTimeout(answered, request.t);
    switch (answer.t) {
      case "inline":
        return answer.data.slice();
      case "error":
        throw answerError(answer);
      case "region":
        return this.#read(answer);
      case "welcome":
        throw new StrataError("BAD_REQUEST", `gateway answered request ${id} with a welcome`);
    }
  }

  async #read(answer: Extract<GatewayMessage, { t: "region" }>): Promise<Uint8Array> {
    let landing: R | undefined;
    try {
      landing = this.#takeLanding(answer.length);
      await this.endpoint.get(landing, 0, answer.length, BigInt(answer.address), answer.rkey);
      return landing.bytes.slice(0, answer.length);
    } finally {
      if (landing !== undefined) this.#giveLanding(landing);
      if (this.#state.kind !== "closed") await this.endpoint.send(encodeControl({ t: "release", region: answer.region })).catch(() => undefined);
    }
  }

  /** A landing buffer of at least `length` bytes: an idle one, else a new one (a power of two, at least 1 MiB). */
  #takeLanding(length: number): R {
    const at = this.#idleLandings.findIndex((r) => r.bytes.length >= length);
    if (at >= 0) return this.#idleLandings.splice(at, 1)[0]!;
    let size = MIN_LANDING_BYTES;
    while (size < length) size *= 2;
    return this.options.allocate(size);
  }

  #giveLanding(landing: R): void {
    if (this.#state.kind === "closed" || this.#idleLandings.length >= MAX_IDLE_LANDINGS) return landing.release();
    this.#idleLandings.push(landing);
  }

  async close(error = new StrataError("UCX_UNAVAILABLE", "UCX session closed")): Promise<void> {
    this.#fail(error);
    await this.endpoint.close().catch(() => undefined);
  }

  #expect(id: number): Promise<GatewayMessage> {
    const answer = new Promise<GatewayMessage>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    // Awaited by the request unless its send failed first: then the session's end must not surface as unhandled.
    answer.catch(() => undefined);
    return answer;
  }

  async #withTimeout(answer: Promise<GatewayMessage>, what: string): Promise<GatewayMessage> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StrataError("UCX_UNAVAILABLE", `UCX ${what}: no answer within ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
    });
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #readLoop(): Promise<void> {
    while (this.#state.kind !== "closed") {
      let message: GatewayMessage;
      try {
        message = this.#decoder.decode(await this.endpoint.receive());
      } catch (e) {
        const error = isStrataError(e) && e.code === "UCX_UNAVAILABLE" ? e : new StrataError("UCX_UNAVAILABLE", `UCX connection failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        return this.close(error);
      }
      const id = message.t === "welcome" ? 0 : message.id;
      const pending = this.#pending.get(id);
      // An error with id 0 after the hello refuses a message the gateway could not read: fail the session.
      if (pending === undefined) {
        if (message.t === "error") await this.close(answerError(message));
        continue;
      }
      this.#pending.delete(id);
      pending.resolve(message);
    }
  }

  #fail(error: StrataError): void {
    if (this.#state.kind === "closed") return;
    this.#state = { kind: "closed", error };
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
    for (const r of this.#idleLandings.splice(0)) r.release();
  }
}
