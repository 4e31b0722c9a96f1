// Opens a UCX session to a gateway's `--ucx-port` for the artefact client: the native path loaded
// (UCX_UNAVAILABLE with the reason when it cannot be), this process's one worker (created on
// first use; UCX_TLS in the environment picks its transports), an endpoint, the hello.
import { StrataError } from "../../core/errors.ts";
import { UcxSession } from "../../core/ucx/ucx-session.ts";
import { parseUcxUrl } from "../../core/ucx/ucx-url.ts";
import type { UcxRegion, UcxWorker } from "../../native/ucx-api.ts";
import { loadUcx } from "../../native/ucx.ts";

export interface UcxLinkOptions {
  readonly token?: string | undefined;
  /** Time the connection, the hello and each request may take. */
  readonly timeoutMs: number;
}

let worker: UcxWorker | undefined;

function processWorker(): UcxWorker {
  const load = loadUcx();
  if (!load.available) throw new StrataError("UCX_UNAVAILABLE", `UCX is not available here: ${load.reason}`);
  worker ??= load.ucx.createWorker();
  return worker;
}

export async function openUcxSession(url: string, options: UcxLinkOptions): Promise<UcxSession<UcxRegion>> {
  const { host, port } = parseUcxUrl(url);
  const w = processWorker();
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
  const w = worker;
  worker = undefined;
  await w?.close();
}
