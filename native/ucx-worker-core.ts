// What an endpoint needs from its worker (native/ucx-worker.ts implements it).
import type { NativeAddon } from "./addon.ts";
import type { UcxLimits } from "./ucx-api.ts";
import type { NativeRegion } from "./ucx-region.ts";

export interface WorkerCore {
  readonly addon: NativeAddon;
  readonly limits: UcxLimits;
  /** Starts an operation with a fresh id (start returns the addon's status); settles on its completion. */
  post(what: string, start: (op: number) => number, holds?: Uint8Array): Promise<ArrayBuffer | null>;
  owns(region: NativeRegion): boolean;
  /** The endpoint with this id finished closing. */
  forget(endpointId: number): void;
}
