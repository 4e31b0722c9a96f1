// A gateway process serving UCX (`--ucx-port 0`), and waiting for conditions in the UCX tests.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { type GatewayProcess, startGateway } from "../helpers/gateway.ts";

export interface UcxGateway {
  readonly gw: GatewayProcess;
  /** ucx://127.0.0.1:PORT */
  readonly ucxUrl: string;
}

/** Resolves once `condition` holds (checked every few milliseconds), or fails after `timeoutMs` naming `what`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const UCX_LINE = /UCX listening on (ucx:\/\/\S+)/;

export async function startUcxGateway(options: { dataDir?: string; args?: string[]; env?: Record<string, string> } = {}): Promise<UcxGateway> {
  const gw = await startGateway({ ...options, args: ["--ucx-port", "0", ...(options.args ?? [])] });
  await waitFor(() => UCX_LINE.test(gw.output()), `the UCX listener line in:\n${gw.output()}`);
  return { gw, ucxUrl: UCX_LINE.exec(gw.output())![1]! };
}

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}
