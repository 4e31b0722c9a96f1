// The chunk source of `strata pull --via ucx://HOST:PORT`: HTTP to the gateway for manifests,
// stream lookups and the fallback; UCX for chunks. close() ends the UCX session and this
// process's UCX worker, so the command can exit.
import type { ChunkSource } from "../artefacts/chunk-source.ts";
import { GatewayHttp } from "../artefacts/gateway-http.ts";
import { DEFAULT_TRANSFER_LIMITS, type TransferLimits } from "../artefacts/transfer-limits.ts";
import { ucxChunkSource } from "./ucx-chunk-source.ts";
import { closeUcxWorker, openUcxSession } from "./ucx-link.ts";

export interface UcxPullSourceOptions {
  /** ucx://HOST:PORT */
  readonly via: string;
  /** The gateway's HTTP URL. */
  readonly gateway: string;
  readonly token?: string | undefined;
  readonly ca?: string | undefined;
  /** Told once, with the reason, when chunks continue over HTTP. */
  readonly onFallback: (message: string) => void;
  /** The HTTP side's timeout and attempts (default: the transfer defaults). */
  readonly limits?: Partial<Pick<TransferLimits, "requestTimeoutMs" | "attempts">>;
}

export interface UcxPullSource {
  readonly source: ChunkSource;
  close(): Promise<void>;
}

/** Answer bytes asked for per UCX request; below the gateway's default ucx.maxRequestBytes (64 MiB). */
const UCX_REQUEST_BYTES = 16 * 1024 * 1024;

export function ucxPullSource(options: UcxPullSourceOptions): UcxPullSource {
  const limits = { ...DEFAULT_TRANSFER_LIMITS, ...options.limits };
  const http = new GatewayHttp(options.gateway, {
    requestTimeoutMs: limits.requestTimeoutMs,
    attempts: limits.attempts,
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.ca !== undefined ? { ca: options.ca } : {}),
  });
  const sessions: { close(): Promise<void> }[] = [];
  const source = ucxChunkSource({
    url: options.via,
    http,
    maxRequestBytes: UCX_REQUEST_BYTES,
    onFallback: options.onFallback,
    connect: async () => {
      const session = await openUcxSession(options.via, { token: options.token, timeoutMs: limits.requestTimeoutMs });
      sessions.push(session);
      return session;
    },
  });
  return {
    source,
    async close() {
      for (const s of sessions.splice(0)) await s.close();
      await closeUcxWorker();
    },
  };
}
