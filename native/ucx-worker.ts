// A UCX worker driven from the JavaScript thread: operations are posted to the addon with an id,
// and their completions come back through the completion ring, drained by pump(). pump() runs
// after posts (a microtask, so posts in one tick share it) and on the addon's wake (its helper
// thread saw the worker's event fd after ucp_worker_arm).
import { getLogger } from "@logtape/logtape";
import { StrataError, invariant } from "../core/errors.ts";
import type { NativeAddon, NativeEntry, NativeHandle } from "./addon.ts";
import type { UcxEndpoint, UcxLimits, UcxListener, UcxRegion, UcxWorker } from "./ucx-api.ts";
import { NativeEndpoint } from "./ucx-endpoint.ts";
import { NativeRegion } from "./ucx-region.ts";
import { RmaLane } from "./ucx-rma-lane.ts";
import type { WorkerCore } from "./ucx-worker-core.ts";
import { SUX_ERR_NOT_INTRA_HOST, UCS_OK, statusError } from "./ucx-status.ts";

const log = getLogger(["strata", "ucx"]);

/** Ring entry kinds (native/src/sux.h). */
const OP_DONE = 1;
const CONN = 2;
const EP_FAILED = 3;

/**
 * After posting, progress this long before arming the wake. Measured between two Bun processes on
 * this 2-core machine at load 8.7-9.4 (test/native/measure-spin.ts, both sides spinning, median
 * of 3 interleaved runs; 1 KiB request/answer round trip, then sequential 4 MiB gets):
 *   spin            0         50 us     200 us    1 ms
 *   shared memory   164 us    220 us    436 us    782 us     gets 30.7 / 29.0 / 31.2 / 32.5 GB/s
 *   tcp             115 us    213 us    385 us    144 us     gets 1.02 / 0.82 / 0.86 / 0.72 GB/s
 * The wake through the helper thread costs far less than a spin here: a spinning side holds one of
 * two oversubscribed cores while its peer needs it to answer, and 4 MiB gets do not care. So no
 * spin by default; on dedicated cores a short spin may pay (createWorker's spinNs, for measuring).
 */
export const SPIN_NS = 0;
export const MAX_SPIN_NS = 10_000_000;
/** Consecutive pumps on microtasks before one yields to the event loop through setImmediate. */
const MICROTASK_PUMPS = 64;

interface PendingOp {
  readonly what: string;
  readonly resolve: (payload: ArrayBuffer | null) => void;
  readonly reject: (error: StrataError) => void;
  /** Memory UCX reads or writes until completion, kept referenced. */
  readonly holds: Uint8Array | undefined;
}

/** What the worker tracks per native endpoint: connections and their get lanes. */
interface TrackedEndpoint {
  failed(reason: string): void;
  close(): Promise<void>;
}

/** An accepted connection whose peer sends no hello within this is closed (it never reaches onEndpoint). */
const HELLO_TIMEOUT_MS = 10_000;

interface ListenerEntry {
  readonly handle: NativeHandle;
  readonly onEndpoint: (ep: UcxEndpoint) => void;
}

type WorkerState = { kind: "open" } | { kind: "closing"; done: Promise<void> } | { kind: "closed" };

export class NativeWorker implements UcxWorker, WorkerCore {
  private state: WorkerState = { kind: "open" };
  private readonly ops = new Map<number, PendingOp>();
  private readonly listeners = new Map<number, ListenerEntry>();
  private readonly endpoints = new Map<number, TrackedEndpoint>();
  private fallbackNoted = false;
  private readonly regions = new Set<NativeRegion>();
  private registeredBytes = 0;
  private nextOp = 1;
  private nextListener = 1;
  private pumpScheduled = false;
  private microtaskPumps = 0;
  /** Operations posted since the last arm: worth a short spin before sleeping. */
  private freshOps = 0;
  /** The addon's wake starts referenced (it would keep the event loop alive); the constructor settles it. */
  private keptAlive = true;
  private idle: (() => void) | undefined;

  readonly addon: NativeAddon;
  private readonly handle: NativeHandle;
  readonly limits: UcxLimits;
  readonly workerAddress: Uint8Array;

  private readonly spinNs: number;
  readonly nicEnforcedKeys: boolean;

  constructor(addon: NativeAddon, handle: NativeHandle, limits: UcxLimits, spinNs: number, nicEnforcedKeys: boolean) {
    this.addon = addon;
    this.handle = handle;
    this.limits = limits;
    this.spinNs = spinNs;
    this.nicEnforcedKeys = nicEnforcedKeys;
    this.workerAddress = new Uint8Array(addon.workerAddress(handle));
    this.updateKeepAlive();
  }

  /** The wake callback handed to the addon (called on the JavaScript thread). */
  static wakeOf(worker: () => NativeWorker | undefined): () => void {
    return () => worker()?.pump();
  }

  private assertOpen(): void {
    if (this.state.kind !== "open") throw new StrataError("UCX_UNAVAILABLE", "the UCX worker is closed");
  }

  post(what: string, start: (op: number) => number, holds?: Uint8Array): Promise<ArrayBuffer | null> {
    if (this.state.kind === "closed") return Promise.reject(new StrataError("UCX_UNAVAILABLE", "the UCX worker is closed"));
    const op = this.takeOpId();
    const status = start(op);
    if (status !== UCS_OK) return Promise.reject(statusError(status, this.addon.statusString(status), `UCX ${what}`));
    this.freshOps++;
    const done = new Promise<ArrayBuffer | null>((resolve, reject) => this.ops.set(op, { what, resolve, reject, holds }));
    this.updateKeepAlive();
    this.schedule();
    return done;
  }

  private takeOpId(): number {
    // u32 ids, skipping any still pending after a wrap.
    for (;;) {
      const id = this.nextOp;
      this.nextOp = this.nextOp === 0xffffffff ? 1 : this.nextOp + 1;
      if (!this.ops.has(id)) return id;
    }
  }

  owns(region: NativeRegion): boolean {
    return this.regions.has(region);
  }

  openLane(peerAddress: Uint8Array): { readonly lane: RmaLane } | { readonly fallback: string; readonly failure: boolean } {
    this.assertOpen();
    const [status, handle, id, intraHost] = this.addon.connectAddress(this.handle, peerAddress);
    if (status === SUX_ERR_NOT_INTRA_HOST) return { fallback: this.addon.statusString(status), failure: false };
    if (status !== UCS_OK || handle === undefined || id === undefined) {
      return { fallback: `UCX could not create an endpoint by worker address: ${this.addon.statusString(status)} (UCX status ${status})`, failure: true };
    }
    const lane = new RmaLane(this, handle, id);
    this.endpoints.set(id, lane);
    if (intraHost === true || this.nicEnforcedKeys) return { lane };
    // Lanes without failure detection are kept only where they are shared memory or cma (or NIC-enforced keys, rmaTransports).
    void lane.close();
    return { fallback: "UCX reaches the peer's worker address only over transports without failure detection", failure: true };
  }

  noteGetFallback(reason: string): void {
    if (this.fallbackNoted) return;
    this.fallbackNoted = true;
    log.info("UCX gets to a same-host peer are unavailable (no shared-memory or cma lane); answers travel as messages: {reason}", { reason });
  }

  forget(endpointId: number): void {
    this.endpoints.delete(endpointId);
  }

  private schedule(): void {
    if (this.pumpScheduled || this.state.kind === "closed") return;
    this.pumpScheduled = true;
    if (this.microtaskPumps++ < MICROTASK_PUMPS) queueMicrotask(() => this.pump());
    else {
      this.microtaskPumps = 0;
      setImmediate(() => this.pump());
    }
  }

  /** Progresses the worker, dispatches what completed, and arms the wake when nothing did. */
  pump(): void {
    this.pumpScheduled = false;
    if (this.state.kind === "closed") return;
    for (let attempt = 0; attempt < 16; attempt++) {
      const entries = this.addon.workerPump(this.handle, this.freshOps > 0 ? this.spinNs : 0);
      if (entries.length > 0) {
        this.dispatch(entries);
        // Let the continuations run (they may post more) before progressing again.
        this.schedule();
        return;
      }
      if (this.addon.workerArm(this.handle)) {
        this.freshOps = 0;
        this.microtaskPumps = 0;
        this.updateKeepAlive();
        return;
      }
    }
    this.schedule();
  }

  private dispatch(entries: readonly NativeEntry[]): void {
    for (const [kind, ref, status, , payload, endpointId] of entries) {
      if (kind === OP_DONE) {
        const op = this.ops.get(ref);
        invariant(op !== undefined, `UCX completion for unknown operation ${ref}`);
        this.ops.delete(ref);
        if (status === UCS_OK) op.resolve(payload instanceof ArrayBuffer ? payload : null);
        else op.reject(statusError(status, this.addon.statusString(status), `UCX ${op.what}`));
      } else if (kind === CONN) {
        invariant(payload !== null && !(payload instanceof ArrayBuffer) && endpointId !== null, "connection entry without an endpoint");
        const endpoint = new NativeEndpoint(this, payload, endpointId);
        this.endpoints.set(endpointId, endpoint);
        if (this.listeners.get(ref) === undefined || this.state.kind !== "open") void endpoint.close();
        else this.accept(ref, endpoint);
      } else if (kind === EP_FAILED) {
        this.endpoints.get(ref)?.failed(this.addon.statusString(status));
      } else {
        invariant(false, `unknown UCX ring entry kind ${kind}`);
      }
    }
    if (this.ops.size === 0) this.idle?.();
    this.updateKeepAlive();
  }

  /** Hands an accepted endpoint to its listener once the hello is exchanged; a peer without one is closed. */
  private accept(listenerId: number, endpoint: NativeEndpoint): void {
    const timer = setTimeout(() => void endpoint.close(), HELLO_TIMEOUT_MS);
    timer.unref?.();
    endpoint.hello().then(
      () => {
        clearTimeout(timer);
        const listener = this.listeners.get(listenerId);
        if (listener === undefined || this.state.kind !== "open") void endpoint.close();
        else listener.onEndpoint(endpoint);
      },
      (e: unknown) => {
        clearTimeout(timer);
        log.debug("UCX endpoint {id} closed before its hello: {error}", { id: endpoint.id, error: e instanceof Error ? e.message : String(e) });
        void endpoint.close();
      },
    );
  }

  /** The wake keeps the process alive while something waits on UCX: an operation or a listener. */
  private updateKeepAlive(): void {
    const want = this.state.kind !== "closed" && (this.ops.size > 0 || this.listeners.size > 0);
    if (want === this.keptAlive) return;
    this.keptAlive = want;
    this.addon.workerKeepAlive(this.handle, want);
  }

  async listen(host: string, port: number, onEndpoint: (ep: UcxEndpoint) => void): Promise<UcxListener> {
    this.assertOpen();
    const id = this.nextListener++;
    const [status, handle, bound] = this.addon.listen(this.handle, id, host, port);
    if (status !== UCS_OK || handle === undefined || bound === undefined) {
      throw statusError(status, this.addon.statusString(status), `UCX listen on ${host}:${port}`);
    }
    this.listeners.set(id, { handle, onEndpoint });
    this.updateKeepAlive();
    this.schedule();
    return {
      port: bound,
      close: async () => {
        const entry = this.listeners.get(id);
        if (entry === undefined) return;
        this.listeners.delete(id);
        this.addon.listenerDestroy(entry.handle);
        this.updateKeepAlive();
      },
    };
  }

  async connect(host: string, port: number): Promise<UcxEndpoint> {
    this.assertOpen();
    const [status, handle, id] = this.addon.connect(this.handle, host, port);
    if (status !== UCS_OK || handle === undefined || id === undefined) {
      throw statusError(status, this.addon.statusString(status), `UCX connect to ${host}:${port}`);
    }
    const endpoint = new NativeEndpoint(this, handle, id);
    this.endpoints.set(id, endpoint);
    try {
      // A flush completes once the endpoint is wired up to the peer, or fails when nobody answers.
      await this.post("connect", (op) => this.addon.epFlush(handle, op));
      await endpoint.hello();
    } catch (e) {
      await endpoint.close();
      const why = e instanceof Error ? e.message : String(e);
      throw new StrataError("UCX_UNAVAILABLE", `UCX connect to ${host}:${port} failed: ${why}`, { cause: e });
    }
    return endpoint;
  }

  private reserve(length: number): void {
    if (this.registeredBytes + length > this.limits.maxRegisteredBytes) {
      throw new StrataError(
        "INSUFFICIENT_STORAGE",
        `registering ${length} bytes would exceed maxRegisteredBytes (${this.limits.maxRegisteredBytes}; ${this.registeredBytes} registered)`,
      );
    }
  }

  private adopt(result: ReturnType<NativeAddon["memAllocate"]>, what: string, bytes: Uint8Array | undefined): NativeRegion {
    const [status, handle, address, rkey, mapped] = result;
    if (status !== UCS_OK || handle === undefined || address === undefined || rkey === undefined) {
      throw statusError(status, this.addon.statusString(status), what);
    }
    const view = bytes ?? (mapped !== undefined ? new Uint8Array(mapped) : undefined);
    invariant(view !== undefined, "allocated region without its memory");
    const region = new NativeRegion(this.addon, handle, bytes === undefined ? mapped : undefined, view, address, new Uint8Array(rkey), (released) => {
      this.regions.delete(released);
      this.registeredBytes -= released.length;
    });
    this.regions.add(region);
    this.registeredBytes += region.length;
    return region;
  }

  allocate(length: number): UcxRegion {
    this.assertOpen();
    if (!Number.isSafeInteger(length) || length <= 0) throw new StrataError("BAD_REQUEST", `cannot allocate ${length} bytes`);
    this.reserve(length);
    return this.adopt(this.addon.memAllocate(this.handle, length), `UCX allocate ${length} bytes`, undefined);
  }

  register(bytes: Uint8Array): UcxRegion {
    this.assertOpen();
    if (bytes.length === 0) throw new StrataError("BAD_REQUEST", "cannot register empty memory");
    this.reserve(bytes.length);
    return this.adopt(this.addon.memRegister(this.handle, bytes), `UCX register ${bytes.length} bytes`, bytes);
  }

  close(): Promise<void> {
    if (this.state.kind === "closing") return this.state.done;
    if (this.state.kind === "closed") return Promise.resolve();
    const done = this.shutDown();
    this.state = { kind: "closing", done };
    return done;
  }

  private async shutDown(): Promise<void> {
    for (const [id, entry] of this.listeners) {
      this.listeners.delete(id);
      this.addon.listenerDestroy(entry.handle);
    }
    await Promise.all([...this.endpoints.values()].map((endpoint) => endpoint.close()));
    if (this.ops.size > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    for (const region of [...this.regions]) region.release();
    invariant(this.ops.size === 0 && this.endpoints.size === 0, "UCX worker closing with live operations or endpoints");
    this.state = { kind: "closed" };
    this.updateKeepAlive();
    this.addon.workerDestroy(this.handle);
    log.debug("UCX worker closed");
  }
}
