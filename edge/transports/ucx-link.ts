// Opens a UCX session to a gateway's `--ucx-port` for the artefact client: the native path loaded
// (UCX_UNAVAILABLE with the reason when it cannot be), this process's one worker (created on
// first use; UCX_TLS in the environment picks its transports), an endpoint, the hello.
import { UcxSession } from "../../core/ucx/ucx-session.ts";
import { parseUcxUrl } from "../../core/ucx/ucx-url.ts";
import type { UcxRegion } from "../../native/ucx-api.ts";
import { clientWorker, closeClientWorker } from "../../native/ucx.ts";

export interface UcxLinkOptions {
  readonly token?: string | undefined;
  /** Time the connection, the hello and each request may take. */
  readonly timeoutMs: number;
}


export async function openUcxSession(url: string, options: UcxLinkOptions): Promise<UcxSession<UcxRegion>> {
  const { host, port } = parseUcxUrl(url);
  const w = clientWorker();
  const endpoint = await w.connect(host, port);
  try {
    return await UcxSession.open(endpoint, { allocate: (n) => w.allocate(n), token: options.token, maxMessageBytes: w.limits.maxMessageBytes, timeoutMs: options.timeoutMs });
  } catch (e) {
    await endpoint.close().catch(() => undefined);
    throw e;
  }
}

/** Closes this process's worker (its endpoints and regions) so the process can exit. */
export async function closeUcxWorker(): Promise<void> {
  await closeClientWorker();
}
