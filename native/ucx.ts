// The native UCX path: loadUcx() answers whether it is usable here (the addon is built and libucp
// loads) and, if so, the API of native/ucx-api.ts. Callers import only this file and ucx-api.ts.
import { StrataError } from "../core/errors.ts";
import { loadAddon, type NativeAddon } from "./addon.ts";
import type { Ucx, UcxLoad, UcxWorker, UcxWorkerOptions } from "./ucx-api.ts";
import { resolveUcxLimits } from "./ucx-limits.ts";
import { rmaTransportsFor } from "./ucx-rma-transports.ts";
import { MAX_SPIN_NS, NativeWorker, SPIN_NS } from "./ucx-worker.ts";

export type * from "./ucx-api.ts";

let loaded: UcxLoad | undefined;

/** Never throws; cached for the process. `reason` says what is missing (the built addon, libucp). */
export function loadUcx(): UcxLoad {
  if (loaded !== undefined) return loaded;
  const addon = loadAddon();
  loaded = addon.loaded ? { available: true, ucx: ucxOf(addon.addon) } : { available: false, reason: addon.reason };
  return loaded;
}

let client: UcxWorker | undefined;

/**
 * This process's one client-side worker (artefact pulls, segment reads), created on first use;
 * UCX_UNAVAILABLE with the reason when UCX is not usable here.
 */
export function clientWorker(): UcxWorker {
  const load = loadUcx();
  if (!load.available) throw new StrataError("UCX_UNAVAILABLE", `UCX is not available here: ${load.reason}`);
  client ??= load.ucx.createWorker();
  return client;
}

/** Closes the client-side worker (its endpoints and regions, for every user in the process) so the process can exit. */
export async function closeClientWorker(): Promise<void> {
  const w = client;
  client = undefined;
  await w?.close();
}

function ucxOf(addon: NativeAddon): Ucx {
  return {
    version: addon.version(),
    createWorker(options: UcxWorkerOptions = {}): UcxWorker {
      const limits = resolveUcxLimits(options.limits);
      if (options.transports !== undefined && !/^[a-z0-9_,^:-]+$/i.test(options.transports)) {
        throw new StrataError("BAD_REQUEST", `UCX transports "${options.transports}" is not a UCX_TLS list`);
      }
      const spinNs = options.spinNs ?? SPIN_NS;
      if (!Number.isSafeInteger(spinNs) || spinNs < 0 || spinNs > MAX_SPIN_NS) throw new StrataError("BAD_REQUEST", `UCX spinNs ${spinNs} is not an integer in [0, ${MAX_SPIN_NS}]`);
      const rma = rmaTransportsFor(options.transports ?? process.env["UCX_TLS"], options.rmaTransports);
      let worker: NativeWorker | undefined;
      const created = addon.workerCreate(options.transports, rma.transports, rma.nicEnforcedKeys, limits.ringCapacity, limits.maxMessageBytes, limits.maxEndpoints, NativeWorker.wakeOf(() => worker));
      if (Array.isArray(created)) {
        const [status, message] = created;
        throw new StrataError("UCX_UNAVAILABLE", `UCX could not start a worker${options.transports ? ` with transports ${options.transports}` : ""}: ${message} (UCX status ${status})`);
      }
      worker = new NativeWorker(addon, created, limits, spinNs, rma.nicEnforcedKeys);
      return worker;
    },
  };
}
