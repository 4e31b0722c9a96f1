// The sync transport choice of the running edge node, kept in DATA/transport.json (written to a
// temporary file and renamed) so `strata edge status` in another process can report it.
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TransportChoice } from "../transports/transport.ts";

export const TRANSPORT_FILE = "transport.json";

export function saveTransportChoice(dataDir: string, choice: TransportChoice): void {
  const path = join(dataDir, TRANSPORT_FILE);
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(choice)}\n`);
  renameSync(temp, path);
}

function isKind(v: unknown): v is "quic" | "http" {
  return v === "quic" || v === "http";
}

function numberOrNull(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** The last saved choice, null when none was saved or the file is unreadable. */
export function loadTransportChoice(dataDir: string): TransportChoice | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(dataDir, TRANSPORT_FILE), "utf8"));
  } catch {
    return null;
  }
  const c = parsed as { publish?: unknown; bulk?: unknown; measured?: { quic_mbps?: unknown; http_mbps?: unknown; at?: unknown; reason?: unknown } };
  if (!isKind(c?.publish) || !isKind(c.bulk) || typeof c.measured !== "object" || c.measured === null) return null;
  const m = c.measured;
  return {
    publish: c.publish,
    bulk: c.bulk,
    measured: { quic_mbps: numberOrNull(m.quic_mbps), http_mbps: numberOrNull(m.http_mbps), at: numberOrNull(m.at), reason: typeof m.reason === "string" ? m.reason : "" },
  };
}

export function removeTransportChoice(dataDir: string): void {
  rmSync(join(dataDir, TRANSPORT_FILE), { force: true });
}
