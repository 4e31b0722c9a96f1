// `strata edge run --data DIR --gateway URL`: the edge node's sync loop as a process.
import { readFileSync } from "node:fs";
import { openEdge, type EdgeEvent } from "../edge/index.ts";
import type { GatewayAddress } from "../edge/transports/connect.ts";
import { flag, parseArgs, UsageError, type Command } from "./command.ts";
import { formatBytes } from "./progress-bar.ts";
import { sizeFlag } from "./size-flag.ts";

const usage = `usage: strata edge run --data DIR --gateway quic://HOST:PORT|http://HOST:PORT [--http URL]
                      [--fingerprint HEX | --ca FILE] [--rate-limit 10MB/s] [--pin STREAM=PATH]... [--once] [--verbose]

Drains the outbox of the edge node in DIR to the gateway as an idempotent producer (every record
exactly once, in order, across disconnects and crashes of either side), reconnecting with
jittered exponential backoff, and keeps the latest artefact of each pinned STREAM at PATH (only
missing chunks move, each verified; PATH is replaced atomically). Runs until SIGINT/SIGTERM.
  --gateway URL      the gateway: quic://HOST:PORT or http://HOST:PORT
  --http URL         the gateway's HTTP address beside quic://: the fallback when QUIC is
                     unavailable, and the other candidate for pin pulls (the faster, measured,
                     is used); QUIC alone carries everything
  --fingerprint HEX  SHA-256 fingerprint of the gateway's QUIC certificate (Bun)
  --ca FILE          PEM certificate the gateway's QUIC certificate chains to (Bun, Deno)
  --rate-limit RATE  total sync bandwidth, uploads and pin downloads together, e.g. 10MB/s or
                     500K (K/M/G are powers of 1024); default unlimited
  --pin STREAM=PATH  keep STREAM's latest artefact at PATH (repeatable)
  --once             exit 0 once the outbox is drained and every pin checked
  --verbose          print every acknowledged request on stderr
Over QUIC, everything falls back to --http for a minute whenever QUIC cannot connect.
\`strata edge status --json\` reports the transport choice and the measured MB/s.`;

function rateFlag(text: string | undefined): number {
  if (text === undefined) return 0;
  return sizeFlag(text.replace(/\/s$/i, ""), "rate-limit", 0);
}

function gatewayFlags(gateway: string | undefined, http: string | undefined, fingerprint: string | undefined, caFile: string | undefined): GatewayAddress {
  if (!gateway && !http) throw new UsageError("give --gateway URL");
  const address: { http?: string; quic?: string; fingerprint?: string; ca?: string } = {};
  if (caFile) address.ca = readFileSync(caFile, "utf8");
  if (gateway?.startsWith("quic://")) address.quic = gateway;
  else if (gateway?.startsWith("http://") || gateway?.startsWith("https://")) address.http = gateway;
  else if (gateway) throw new UsageError(`--gateway must be quic://HOST:PORT or http://HOST:PORT, got ${gateway}`);
  if (http) address.http = http;
  if (fingerprint) address.fingerprint = fingerprint;
  return address;
}

function pinFlag(text: string): { stream: string; path: string } {
  const eq = text.indexOf("=");
  if (eq <= 0 || eq === text.length - 1) throw new UsageError(`--pin must be STREAM=PATH, got ${text}`);
  return { stream: text.slice(0, eq), path: text.slice(eq + 1) };
}

function logEvent(event: EdgeEvent, verbose: boolean): void {
  switch (event.kind) {
    case "acked":
      if (verbose) process.stderr.write(`acked ${event.records} records of ${event.stream} (epoch ${event.epoch}, seq ${event.seq})\n`);
      return;
    case "pin-updated":
      process.stderr.write(`pinned ${event.stream} → ${event.path}: ${event.artefact} (${formatBytes(event.size)}, ${formatBytes(event.bytesTransferred)} downloaded)\n`);
      return;
    case "notice":
      process.stderr.write(`sync: ${event.message}\n`);
      return;
    case "error":
      process.stderr.write(`sync: ${event.message}${event.retryInMs !== null ? `; retrying in ${event.retryInMs} ms` : ""}\n`);
      return;
  }
}

export const edgeRunCommand: Command = {
  name: "edge run",
  summary: "sync an edge node's outbox and pins with a gateway",
  usage,
  async run(args) {
    const parsed = parseArgs(args, ["data", "gateway", "http", "fingerprint", "ca", "rate-limit", "pin"]);
    for (const s of parsed.switches) if (s !== "once" && s !== "verbose") throw new UsageError(`unknown option --${s}`);
    if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument ${parsed.positionals[0]}`);
    const dataDir = flag(parsed, "data");
    if (!dataDir) throw new UsageError("give --data DIR");
    const gateway = gatewayFlags(flag(parsed, "gateway"), flag(parsed, "http"), flag(parsed, "fingerprint"), flag(parsed, "ca"));
    const rate = rateFlag(flag(parsed, "rate-limit"));
    const pins = (parsed.flags.get("pin") ?? []).map(pinFlag);
    const verbose = parsed.switches.has("verbose");
    // The outbox bound only limits publishing; the loop never adds rows.
    const edge = await openEdge({ dataDir, gateway, maxOutboxBytes: Number.MAX_SAFE_INTEGER, rateLimitBytesPerSec: rate, onEvent: (e) => logEvent(e, verbose) });
    const stop = (): void => void edge.stop();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    try {
      for (const pin of pins) await edge.pin(pin.stream, pin.path);
      if (rate > 0) process.stderr.write(`edge: sync bandwidth at most ${formatBytes(rate)}/s\n`);
      await edge.run({ once: parsed.switches.has("once") });
      return 0;
    } finally {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      await edge.close();
    }
  },
};
