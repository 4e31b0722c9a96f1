// One UCX endpoint: framed messages on its UCP stream, one-sided gets, and its lifecycle.
import { getLogger } from "@logtape/logtape";
import { StrataError } from "../core/errors.ts";
import type { NativeHandle } from "./addon.ts";
import { checkRemoteRange, decodeRemoteKey } from "./remote-key.ts";
import type { UcxEndpoint, UcxRegion } from "./ucx-api.ts";
import { NativeRegion } from "./ucx-region.ts";
import type { WorkerCore } from "./ucx-worker-core.ts";

const log = getLogger(["strata", "ucx"]);

type EndpointState = { kind: "open" } | { kind: "closing"; reason: string } | { kind: "closed"; reason: string };

export class NativeEndpoint implements UcxEndpoint {
  readonly closed: Promise<string>;
  private state: EndpointState = { kind: "open" };
  private settleClosed!: (reason: string) => void;
  private closing: Promise<void> | undefined;

  private readonly core: WorkerCore;
  private readonly handle: NativeHandle;
  readonly id: number;

  constructor(core: WorkerCore, handle: NativeHandle, id: number) {
    this.core = core;
    this.handle = handle;
    this.id = id;
    this.closed = new Promise((resolve) => (this.settleClosed = resolve));
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
      const payload = await this.core.post("receive", (op) => this.core.addon.epReceive(this.handle, op));
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
      await this.core.post("get", (op) => this.core.addon.epGet(this.handle, op, target, remoteAddress, key.packed));
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
    this.closing = this.core
      .post("close", (op) => this.core.addon.epClose(this.handle, op, force))
      .then(
        () => undefined,
        (e: unknown) => log.debug("UCX endpoint {id} close: {error}", { id: this.id, error: e instanceof Error ? e.message : String(e) }),
      )
      .finally(() => {
        this.state = { kind: "closed", reason };
        this.core.forget(this.id);
      });
    return this.closing;
  }
}
