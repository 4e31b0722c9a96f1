// A registered (or ucp_mem_map-allocated) memory region of a UCX worker.
import { StrataError, invariant } from "../core/errors.ts";
import type { NativeAddon, NativeHandle } from "./addon.ts";
import { encodeRemoteKey } from "./remote-key.ts";
import type { UcxRegion } from "./ucx-api.ts";

type RegionState = { kind: "live"; gets: number } | { kind: "releasing"; gets: number } | { kind: "released" };

export class NativeRegion implements UcxRegion {
  readonly bytes: Uint8Array;
  readonly address: bigint;
  readonly rkey: Uint8Array;
  readonly length: number;
  private state: RegionState = { kind: "live", gets: 0 };
  private readonly addon: NativeAddon;
  private readonly handle: NativeHandle;
  /** The allocated memory's ArrayBuffer (detached on release), or undefined for registered memory. */
  private readonly mapped: ArrayBuffer | undefined;
  private readonly onReleased: (region: NativeRegion) => void;

  // Plain fields, no parameter properties: Node runs these sources with type stripping only.
  constructor(
    addon: NativeAddon,
    handle: NativeHandle,
    mapped: ArrayBuffer | undefined,
    bytes: Uint8Array,
    address: bigint,
    packedRkey: Uint8Array,
    onReleased: (region: NativeRegion) => void,
  ) {
    this.addon = addon;
    this.handle = handle;
    this.mapped = mapped;
    this.onReleased = onReleased;
    this.bytes = bytes;
    this.address = address;
    this.length = bytes.length;
    this.rkey = encodeRemoteKey({ address, length: bytes.length, packed: packedRkey });
  }

  get live(): boolean {
    return this.state.kind === "live";
  }

  /** Marks a get into this region in flight; the memory stays mapped until it ends. */
  beginGet(): void {
    if (this.state.kind !== "live") throw new StrataError("BAD_REQUEST", "get into a released region");
    this.state.gets++;
  }

  endGet(): void {
    invariant(this.state.kind !== "released" && this.state.gets > 0, "a get ended on a region with none in flight");
    this.state.gets--;
    if (this.state.kind === "releasing" && this.state.gets === 0) this.unmap();
  }

  /** Idempotent; a get still writing here keeps the memory mapped until it completes (gets cannot be cancelled). */
  release(): void {
    if (this.state.kind !== "live") return;
    if (this.state.gets > 0) this.state = { kind: "releasing", gets: this.state.gets };
    else this.unmap();
  }

  private unmap(): void {
    this.state = { kind: "released" };
    this.addon.memRelease(this.handle, this.mapped);
    this.onReleased(this);
  }
}
