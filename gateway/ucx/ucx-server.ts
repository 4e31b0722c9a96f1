// `strata serve --ucx-port N`: a UCX listener next to HTTP serving chunk and segment ranges
// (docs/native.md). Off by default. The worker's limits come from the `ucx` family: its message
// bound sits above ucx.maxMessageBytes so a somewhat oversized control message still gets an error
// answer (only one past the worker's bound closes its endpoint), its registered bytes are the pool
// plus the client's landing room, and its endpoints are ucx.maxEndpoints.
import { getLogger } from "@logtape/logtape";
import { StrataError } from "../../core/errors.ts";
import type { UcxListener, UcxWorker } from "../../native/ucx-api.ts";
import { loadUcx } from "../../native/ucx.ts";
import type { GatewayServices } from "../services.ts";
import { UcxConnection } from "./ucx-connection.ts";
import type { UcxLimits } from "./ucx-limits.ts";
import { RegionPool } from "./region-pool.ts";
import { UcxRequests } from "./ucx-requests.ts";

const log = getLogger(["strata", "ucx"]);

/** Room in a worker message besides an inline answer's bytes (type, id, map and bin headers). */
const ANSWER_ENVELOPE_BYTES = 1024;
/** Largest worker message: UCX's own bound (native/ucx-limits.ts) tops out at 1 GiB. */
const WORKER_MAX_MESSAGE_BYTES = 1024 * 1024 * 1024;

export interface UcxServerOptions {
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  readonly limits: UcxLimits;
  /** UCX_TLS for the worker (e.g. "tcp", "sm"); default: UCX's own choice. */
  readonly transports?: string;
}

export interface UcxServer {
  readonly host: string;
  readonly port: number;
  /** libucp's version. */
  readonly version: string;
  close(): Promise<void>;
}

type ServerState = { kind: "serving"; listener: UcxListener } | { kind: "closed" };

/** Why the UCX path cannot run here, or undefined when it can. */
export function ucxUnavailableReason(): string | undefined {
  const load = loadUcx();
  return load.available ? undefined : load.reason;
}

export async function startUcxServer(services: GatewayServices, options: UcxServerOptions): Promise<UcxServer> {
  const load = loadUcx();
  if (!load.available) throw new StrataError("UCX_UNAVAILABLE", `UCX is not available here: ${load.reason}`);
  const { limits } = options;
  const worker: UcxWorker = load.ucx.createWorker({
    ...(options.transports !== undefined ? { transports: options.transports } : {}),
    limits: {
      // A client without a one-sided path (tcp: getsVia "none") gets every answer inline, up to maxRequestBytes.
      maxMessageBytes: Math.min(WORKER_MAX_MESSAGE_BYTES, Math.max(2 * limits.maxMessageBytes, limits.maxRequestBytes + ANSWER_ENVELOPE_BYTES)),
      maxRegisteredBytes: limits.poolBytes,
      maxEndpoints: limits.maxEndpoints,
      ringCapacity: Math.max(4096, 2 * limits.maxEndpoints + 8 + limits.maxEndpoints * limits.maxRequestsInFlight),
    },
  });
  const ctx = { requests: new UcxRequests(services, limits), pool: new RegionPool(worker, limits.poolBytes), limits };
  const connections = new Set<UcxConnection>();
  let nextOwner = 1;
  let listener: UcxListener;
  try {
    listener = await worker.listen(options.host, options.port, (endpoint) => {
      const connection = new UcxConnection(endpoint, nextOwner++, ctx);
      connections.add(connection);
      void connection.serve().finally(() => connections.delete(connection));
    });
  } catch (e) {
    await worker.close().catch(() => undefined);
    throw e;
  }
  let state: ServerState = { kind: "serving", listener };
  log.info("UCX listening on {host}:{port} (libucp {version})", { host: options.host, port: listener.port, version: load.ucx.version });
  return {
    host: options.host,
    port: listener.port,
    version: load.ucx.version,
    async close() {
      if (state.kind === "closed") return;
      const open = state.listener;
      state = { kind: "closed" };
      await open.close().catch(() => undefined);
      // Closing the worker closes every endpoint and releases every region.
      await worker.close();
    },
  };
}
