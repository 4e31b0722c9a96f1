// What an endpoint needs from its worker (native/ucx-worker.ts implements it).
import type { NativeAddon, NativeHandle } from "./addon.ts";
import type { UcxLimits } from "./ucx-api.ts";
import type { NativeRegion } from "./ucx-region.ts";

export interface WorkerCore {
  readonly addon: NativeAddon;
  readonly limits: UcxLimits;
  /** Starts an operation with a fresh id (start returns the addon's status); settles on its completion. */
  post(what: string, start: (op: number) => number, holds?: Uint8Array): Promise<ArrayBuffer | null>;
  owns(region: NativeRegion): boolean;
  /** The RMA worker's UCP address, sent in each connection's hello; empty when no peer can get from this worker. */
  readonly workerAddress: Uint8Array;
  /** rmaTransports were given (NIC-enforced keys): lanes to peers on other hosts are allowed. */
  readonly nicEnforcedKeys: boolean;
  /**
   * An endpoint to a peer's RMA worker by its address for gets, or why there is none (gets reject):
   * expected (this worker has no shared-memory or cma transport) or a failure (UCX could not create
   * it, or would not carry it over shared memory or cma: then it is already closing).
   */
  openLane(peerAddress: Uint8Array): { readonly lane: GetLane } | { readonly fallback: string; readonly failure: boolean };
  /** A connection to a same-host peer has no get lane after all: logged once per worker. */
  noteGetFallback(reason: string): void;
  /** The endpoint with this id finished closing. */
  forget(endpointId: number): void;
}

/** The endpoint a connection's gets use to a same-host peer (native/ucx-rma-lane.ts implements it). */
export interface GetLane {
  readonly handle: NativeHandle;
  readonly open: boolean;
  /** A get failed on it: it closes. */
  failed(reason: string): void;
  /** force: the peer is gone. */
  shut(reason: string, force: boolean): Promise<void>;
}
