// One UCX endpoint: framed messages on its UCP stream, one-sided gets, and its lifecycle. Both
// sides first exchange hello frames (native/ucx-hello.ts: their RMA workers' addresses); gets then
// go through a second endpoint opened by the peer's RMA worker address on the first get (native/
// ucx-rma-lane.ts), which UCX wires over shared memory or cma where the peer is on this host. The
// socket-address endpoint (tcp) never carries a get: its context has no RMA (native/src/sux.c).
// Without a lane (another host, no shared memory or cma on either side, or the lane failed) every
// get rejects with UCX_UNAVAILABLE at once and getsVia says "none".
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

/** Where gets go: nowhere before the hello; the lane once opened; nowhere, for a reason, without one. */
type GetPath =
  | { kind: "awaiting-hello" }
  | { kind: "unopened"; peer: Hello }
  | { kind: "lane"; lane: GetLane }
  | { kind: "none"; reason: string };

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

  get getsVia(): "pending" | "worker address" | "none" {
    const kind = this.getPath.kind;
    return kind === "lane" ? "worker address" : kind === "none" ? "none" : "pending";
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
    this.getPath = oneSidedPath(peer, this.core.workerAddress.length > 0, this.core.nicEnforcedKeys);
  }

  /** The lane a get goes through now (opened on the first get), or UCX_UNAVAILABLE: no one-sided path to this peer. */
  private getLane(): GetLane {
    if (this.getPath.kind === "unopened") {
      const opened = this.core.openLane(this.getPath.peer.workerAddress);
      if ("lane" in opened) this.getPath = { kind: "lane", lane: opened.lane };
      else if (opened.failure) this.laneFailed(opened.fallback);
      else this.getPath = { kind: "none", reason: opened.fallback };
    }
    if (this.getPath.kind === "lane") return this.getPath.lane;
    const reason = this.getPath.kind === "none" ? this.getPath.reason : "the hello is not exchanged";
    throw new StrataError("UCX_UNAVAILABLE", `no one-sided path to this peer: ${reason}`);
  }

  /** The worker-address endpoint could not be used or failed: no more gets on this connection, logged once per worker. */
  private laneFailed(reason: string): void {
    this.getPath = { kind: "none", reason };
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

  async receive(maxBytes?: number): Promise<Uint8Array> {
    if (this.state.kind !== "open") throw this.unavailable();
    const max = this.core.limits.maxMessageBytes;
    if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes <= 0 || maxBytes > max)) {
      throw new StrataError("BAD_REQUEST", `receive bound ${maxBytes} is not an integer in [1, maxMessageBytes = ${max}]`);
    }
    try {
      const payload = await this.core.post("receive", (op) => this.core.addon.epReceive(this.handle, op, maxBytes ?? 0));
      return payload === null ? new Uint8Array(0) : new Uint8Array(payload);
    } catch (e) {
      // After an oversized frame the stream cannot be resynchronised: the endpoint is done.
      if (e instanceof StrataError && e.code === "PAYLOAD_TOO_LARGE") {
        void this.shut(`peer sent a frame over ${maxBytes ?? this.core.limits.maxMessageBytes} bytes (the receive's bound)`, true);
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
    const lane = this.getLane();
    into.beginGet();
    try {
      const target = into.bytes.subarray(offset, offset + length);
      try {
        await this.core.post("get", (op) => this.core.addon.epGet(lane.handle, op, target, remoteAddress, key.packed));
      } catch (e) {
        // A get failed on the lane (a key whose segment is gone does not attach): this get fails, and
        // so do the next ones on this connection (the lane is retired; there is no other one-sided path).
        if (this.state.kind === "open") {
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

/** After the hello: whether gets can have a lane to this peer (both sides have an RMA worker address, one host unless keys are NIC-enforced). */
function oneSidedPath(peer: Hello, oursHasLanes: boolean, nicEnforcedKeys: boolean): GetPath {
  if (!oursHasLanes) return { kind: "none", reason: "this worker has no shared-memory or cma transport (tcp carries no gets)" };
  if (peer.workerAddress.length === 0) return { kind: "none", reason: "the peer has no shared-memory or cma transport (tcp carries no gets)" };
  if (peer.hostId !== localHostId() && !nicEnforcedKeys) return { kind: "none", reason: "the peer runs on another host (tcp carries no gets)" };
  return { kind: "unopened", peer };
}
