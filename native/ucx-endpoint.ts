// One UCX endpoint: framed messages on its UCP stream, one-sided gets, and its lifecycle. Both
// sides first exchange hello frames (native/ucx-hello.ts: their worker addresses); gets then go
// through a second endpoint opened by the peer's worker address on the first get (native/
// ucx-rma-lane.ts), which UCX wires over shared memory or cma where the peer is on this host.
// Without it (the address endpoint cannot be created, or failed) gets use the socket-address
// endpoint (tcp), and the worker says so once in the log.
import { getLogger } from "@logtape/logtape";
import { StrataError, invariant } from "../core/errors.ts";
import type { NativeHandle } from "./addon.ts";
import { checkRemoteRange, decodeRemoteKey } from "./remote-key.ts";
import type { UcxEndpoint, UcxRegion } from "./ucx-api.ts";
import { MAX_HELLO_BYTES, decodeHello, encodeHello, localHostId, type Hello } from "./ucx-hello.ts";
import { NativeRegion } from "./ucx-region.ts";
import type { GetLane, WorkerCore } from "./ucx-worker-core.ts";

const log = getLogger(["strata", "ucx"]);

type EndpointState = { kind: "open" } | { kind: "closing"; reason: string } | { kind: "closed"; reason: string };

/** Where gets go: nowhere before the hello; the lane once opened; the socket-address endpoint without one. */
type GetPath =
  | { kind: "awaiting-hello" }
  | { kind: "unopened"; peer: Hello }
  | { kind: "lane"; lane: GetLane }
  | { kind: "sockaddr"; reason: string };

export class NativeEndpoint implements UcxEndpoint {
  readonly closed: Promise<string>;
  private state: EndpointState = { kind: "open" };
  private settleClosed!: (reason: string) => void;
  private closing: Promise<void> | undefined;
  private getPath: GetPath = { kind: "awaiting-hello" };

  private readonly core: WorkerCore;
  private readonly handle: NativeHandle;
  readonly id: number;

  constructor(core: WorkerCore, handle: NativeHandle, id: number) {
    this.core = core;
    this.handle = handle;
    this.id = id;
    this.closed = new Promise((resolve) => (this.settleClosed = resolve));
  }

  get getsVia(): "pending" | "worker address" | "socket address" {
    const kind = this.getPath.kind;
    return kind === "lane" ? "worker address" : kind === "sockaddr" ? "socket address" : "pending";
  }

  /** Sends this worker's hello and reads the peer's (before the endpoint is handed to anyone). */
  async hello(): Promise<void> {
    invariant(this.getPath.kind === "awaiting-hello", "UCX hello exchanged twice");
    const ours = encodeHello({ hostId: localHostId(), workerAddress: this.core.workerAddress });
    const [, frame] = await Promise.all([
      this.core.post("send hello", (op) => this.core.addon.epSend(this.handle, op, ours), ours),
      this.core.post("receive hello", (op) => this.core.addon.epReceive(this.handle, op, MAX_HELLO_BYTES)),
    ]);
    const peer = decodeHello(frame === null ? new Uint8Array(0) : new Uint8Array(frame));
    invariant(this.getPath.kind === "awaiting-hello", "UCX hello exchanged twice");
    this.getPath = { kind: "unopened", peer };
  }

  /** The native endpoint a get goes through now (opening the lane on the first get to a same-host peer). */
  private getEndpoint(): { handle: NativeHandle; lane: GetLane | undefined } {
    if (this.getPath.kind === "unopened") {
      const { peer } = this.getPath;
      if (peer.hostId !== localHostId()) {
        this.getPath = { kind: "sockaddr", reason: "the peer runs on another host" };
      } else {
        const opened = this.core.openLane(peer.workerAddress);
        if ("lane" in opened) this.getPath = { kind: "lane", lane: opened.lane };
        else if (opened.failure) this.laneFailed(opened.fallback);
        else this.getPath = { kind: "sockaddr", reason: opened.fallback };
      }
    }
    return this.getPath.kind === "lane" ? { handle: this.getPath.lane.handle, lane: this.getPath.lane } : { handle: this.handle, lane: undefined };
  }

  /** The worker-address endpoint could not be used or failed: gets use the socket-address endpoint, logged once per worker. */
  private laneFailed(reason: string): void {
    this.getPath = { kind: "sockaddr", reason };
    if (this.state.kind === "open") this.core.noteGetFallback(`UCX endpoint ${this.id}: ${reason}`);
  }

  private unavailable(): StrataError {
    const reason = this.state.kind === "open" ? "open" : this.state.reason;
    return new StrataError("UCX_UNAVAILABLE", `UCX endpoint ${this.id} is closed: ${reason}`);
  }

  async send(message: Uint8Array): Promise<void> {
    if (this.state.kind !== "open") throw this.unavailable();
    const max = this.core.limits.maxMessageBytes;
    if (message.length > max) throw new StrataError("PAYLOAD_TOO_LARGE", `UCX message of ${message.length} bytes is over maxMessageBytes (${max})`);
    // `message` stays referenced by the pending operation until UCX is done with it.
    await this.core.post("send", (op) => this.core.addon.epSend(this.handle, op, message), message);
  }

  async receive(): Promise<Uint8Array> {
    if (this.state.kind !== "open") throw this.unavailable();
    try {
      const payload = await this.core.post("receive", (op) => this.core.addon.epReceive(this.handle, op, 0));
      return payload === null ? new Uint8Array(0) : new Uint8Array(payload);
    } catch (e) {
      // After an oversized frame the stream cannot be resynchronised: the endpoint is done.
      if (e instanceof StrataError && e.code === "PAYLOAD_TOO_LARGE") {
        void this.shut(`peer sent a frame over maxMessageBytes (${this.core.limits.maxMessageBytes})`, true);
        throw e;
      }
      if (this.state.kind !== "open") throw this.unavailable();
      throw e;
    }
  }

  async get(into: UcxRegion, offset: number, length: number, remoteAddress: bigint, rkey: Uint8Array): Promise<void> {
    if (this.state.kind !== "open") throw this.unavailable();
    if (!(into instanceof NativeRegion) || !this.core.owns(into)) throw new StrataError("BAD_REQUEST", "get into a region of another worker");
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0 || offset + length > into.length) {
      throw new StrataError("BAD_REQUEST", `get of ${length} bytes at offset ${offset} is outside the local region of ${into.length} bytes`);
    }
    const key = decodeRemoteKey(rkey);
    checkRemoteRange(key, remoteAddress, length);
    into.beginGet();
    try {
      const target = into.bytes.subarray(offset, offset + length);
      const { handle, lane } = this.getEndpoint();
      try {
        await this.core.post("get", (op) => this.core.addon.epGet(handle, op, target, remoteAddress, key.packed));
      } catch (e) {
        // A get failed on the lane (a key whose segment is gone does not attach): this get fails, and
        // the next ones use the socket-address endpoint. Not retried there: software RMA over tcp
        // checks no key and would read whatever the address now holds in the peer.
        if (lane !== undefined && this.state.kind === "open") {
          const why = e instanceof Error ? e.message : String(e);
          if (this.getPath.kind === "lane" && this.getPath.lane === lane) this.laneFailed(`a get on the shared-memory endpoint failed: ${why}`);
          lane.failed(why);
        }
        throw e;
      }
    } catch (e) {
      if (this.state.kind !== "open") throw this.unavailable();
      throw e;
    } finally {
      into.endGet();
    }
  }

  close(): Promise<void> {
    return this.shut("closed locally", false);
  }

  /** The peer went away (UCX's error handler): every pending operation fails and the endpoint closes. */
  failed(reason: string): void {
    log.debug("UCX endpoint {id} failed: {reason}", { id: this.id, reason });
    void this.shut(`peer gone (${reason})`, true);
  }

  private shut(reason: string, force: boolean): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.state = { kind: "closing", reason };
    this.settleClosed(reason);
    const lane = this.getPath.kind === "lane" ? this.getPath.lane.shut(reason, force) : Promise.resolve();
    const main = this.core
      .post("close", (op) => this.core.addon.epClose(this.handle, op, force))
      .then(
        () => undefined,
        (e: unknown) => log.debug("UCX endpoint {id} close: {error}", { id: this.id, error: e instanceof Error ? e.message : String(e) }),
      );
    this.closing = Promise.all([main, lane])
      .then(() => undefined)
      .finally(() => {
        this.state = { kind: "closed", reason };
        this.core.forget(this.id);
      });
    return this.closing;
  }
}
