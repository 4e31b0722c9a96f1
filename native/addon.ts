// Finds and loads the UCX Node-API addon (dist/native/strata-ucx.node, built by native/build.mjs)
// the same way in Bun, Node and Deno (createRequire; Deno needs --allow-ffi --allow-read), and
// checks that it exports every function this file declares before anyone calls it.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { z } from "zod";

/** A napi external: an opaque handle to native state, meaningful only to the addon. */
export type NativeHandle = object;

/** One drained completion: [kind, ref, status, length, payload, endpointId]; see native/src/addon.c workerPump. */
export type NativeEntry = readonly [number, number, number, number, ArrayBuffer | NativeHandle | null, number | null];
/** [status, handle, endpointId] when status is 0. */
export type NativeConnect = readonly [number, NativeHandle?, number?];
/** [status, handle, endpointId, every lane UCX chose reaches only this host (shared memory, cma)] when status is 0. */
export type NativeAddressConnect = readonly [number, NativeHandle?, number?, boolean?];
/** [status, handle, boundPort] when status is 0. */
export type NativeListen = readonly [number, NativeHandle?, number?];
/** [status, handle, address, packed rkey, mapped memory (allocate only)] when status is 0. */
export type NativeMem = readonly [number, NativeHandle?, bigint?, ArrayBuffer?, ArrayBuffer?];

export interface NativeAddon {
  version(): string;
  statusString(status: number): string;
  /** A handle, or [status, message] when UCX could not start. */
  /** rmaTransports: the RMA context's UCX_TLS (undefined: "self" only); nicEnforcedKeys: its peers may be on other hosts. */
  workerCreate(
    transports: string | undefined,
    rmaTransports: string | undefined,
    nicEnforcedKeys: boolean,
    ringCapacity: number,
    maxMessageBytes: number,
    maxEndpoints: number,
    wake: () => void,
  ): NativeHandle | readonly [number, string];
  workerDestroy(worker: NativeHandle): void;
  workerKeepAlive(worker: NativeHandle, on: boolean): void;
  workerArm(worker: NativeHandle): boolean;
  workerPump(worker: NativeHandle, spinNs: number): readonly NativeEntry[];
  listen(worker: NativeHandle, id: number, host: string, port: number): NativeListen;
  listenerDestroy(listener: NativeHandle): void;
  connect(worker: NativeHandle, host: string, port: number): NativeConnect;
  /** The RMA worker's UCP address (ucp_worker_get_address), copied; empty when no peer can have a one-sided path to it. */
  workerAddress(worker: NativeHandle): ArrayBuffer;
  /** An endpoint to a peer worker on this host by its UCP address, error mode NONE (the get path over shared memory and cma; native/src/sux.h). */
  connectAddress(worker: NativeHandle, address: Uint8Array): NativeAddressConnect;
  epFlush(ep: NativeHandle, op: number): number;
  epSend(ep: NativeHandle, op: number, message: Uint8Array): number;
  /** maxBytes: the largest body accepted (0: the worker's maxMessageBytes). */
  epReceive(ep: NativeHandle, op: number, maxBytes: number): number;
  epGet(ep: NativeHandle, op: number, into: Uint8Array, remoteAddress: bigint, packedRkey: Uint8Array): number;
  epClose(ep: NativeHandle, op: number, force: boolean): number;
  memAllocate(worker: NativeHandle, length: number): NativeMem;
  memRegister(worker: NativeHandle, bytes: Uint8Array): NativeMem;
  memRelease(mem: NativeHandle, mapped: ArrayBuffer | undefined): void;
}

const FUNCTIONS = [
  "version", "statusString", "workerCreate", "workerDestroy", "workerKeepAlive", "workerArm", "workerPump", "listen",
  "listenerDestroy", "connect", "workerAddress", "connectAddress", "epFlush", "epSend", "epReceive", "epGet", "epClose", "memAllocate", "memRegister", "memRelease",
] as const satisfies readonly (keyof NativeAddon)[];

const addonSchema = z.custom<NativeAddon>(
  (value) => typeof value === "object" && value !== null && FUNCTIONS.every((name) => typeof Reflect.get(value, name) === "function"),
  { message: `the addon does not export ${FUNCTIONS.join(", ")}` },
);

export const ADDON_FILE = "strata-ucx.node";

/**
 * Where the addon may be: $STRATA_UCX_ADDON, then dist/native/ as seen from the sources
 * (native/), from the bundled CLI (dist/node/) and from the packaged client library
 * (dist/lib/gateway/).
 */
export function addonCandidates(): string[] {
  const fromEnv = process.env["STRATA_UCX_ADDON"];
  const found = fromEnv ? [fromEnv] : [];
  for (const relative of [`../dist/native/${ADDON_FILE}`, `../native/${ADDON_FILE}`, `../../native/${ADDON_FILE}`]) found.push(fileURLToPath(new URL(relative, import.meta.url)));
  return found;
}

export type AddonLoad = { readonly loaded: true; readonly addon: NativeAddon; readonly path: string } | { readonly loaded: false; readonly reason: string };

/** Loads the first existing candidate; never throws. */
export function loadAddon(): AddonLoad {
  const path = addonCandidates().find((candidate) => existsSync(candidate));
  if (path === undefined) {
    return { loaded: false, reason: `the UCX addon is not built (npm run build:native needs gcc and libucx-dev; looked for ${addonCandidates().join(", ")})` };
  }
  let exported: unknown;
  try {
    exported = createRequire(import.meta.url)(path);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const why = /libuc[ps]/.test(message) ? "libucp is not installed (apt-get install libucx-dev or libucx0)" : "it does not load here";
    return { loaded: false, reason: `the UCX addon at ${path}: ${why}: ${message}` };
  }
  const parsed = addonSchema.safeParse(exported);
  if (!parsed.success) return { loaded: false, reason: `the UCX addon at ${path} is stale (rebuild with npm run build:native): ${parsed.error.issues[0]?.message ?? "bad exports"}` };
  return { loaded: true, addon: parsed.data, path };
}
