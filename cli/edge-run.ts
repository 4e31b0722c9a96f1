// `strata edge run --data DIR --gateway URL`: the edge node's sync loop as a process. What the
// loop does (pins updated, transport notices, errors it retries) goes to the log on stderr.
import { readFileSync } from "node:fs";
import { getLogger } from "@logtape/logtape";
import type { Command } from "commander";
import { z } from "zod";
import { openEdge, type EdgeEvent } from "../edge/index.ts";
import type { GatewayAddress } from "../edge/transports/connect.ts";
import { GatewayCertificateError } from "../runtime/quic/connect.ts";
import { defineAction, UsageError } from "./command.ts";
import { tokenOption, tokenText } from "./gateway-token.ts";
import { httpUrlText, withScheme } from "./gateway-url.ts";
import { collect, rateText } from "./option-schemas.ts";
import { formatBytes } from "./progress-bar.ts";
import { updateHook } from "./edge-update-hook.ts";
import { VERSION } from "./version.ts";
import { labelPairs } from "./edge-labels.ts";

const log = getLogger(["strata", "cli", "edge"]);

const details = `
Drains the outbox of the edge node in DIR to the gateway as an idempotent producer (every record
exactly once, in order, across disconnects and crashes of either side), reconnecting with
jittered exponential backoff, and keeps the latest artefact of each pinned STREAM at PATH (only
missing chunks move, each verified; PATH is replaced atomically). A stream missing on the
gateway is created with 1 partition, as by \`strata publish\`. Runs until SIGINT/SIGTERM.
--gateway is quic://HOST:PORT or http(s)://HOST:PORT (no scheme: http). With quic://, --http
names the gateway's HTTP address: the fallback when QUIC is unavailable (everything falls back
to it for a minute whenever QUIC cannot connect), and the other candidate for pin pulls (the
faster, measured, is used); QUIC alone carries everything. --rate-limit bounds uploads and pin
downloads together (K/M/G are powers of 1024). \`strata edge status --json\` reports the transport
choice and the measured MB/s.
--token (or STRATA_TOKEN) is sent as a Bearer header over HTTP and in the hello over QUIC; it
needs publish on the streams the node writes and consume on its pins. With each pin round the node reports a heartbeat as device --device-id (labels --label) and, for
a pinned stream under a rollout, holds the version the gateway names for it (docs/fleet.md); the
token then also needs publish on _strata/devices/ID (without it, pins follow their stream's newest
artefact). --on-update runs a command after each pin update. A gateway that refuses the
token (UNAUTHENTICATED: missing, expired, revoked) ends the run with exit 1; a stream outside its
scopes (FORBIDDEN) rests while the others sync.`;

const pinText = z.string().transform((text, ctx) => {
  const eq = text.indexOf("=");
  if (eq <= 0 || eq === text.length - 1) {
    ctx.issues.push({ code: "custom", message: `must be STREAM=PATH, got ${text}`, input: text });
    return z.NEVER;
  }
  return { stream: text.slice(0, eq), path: text.slice(eq + 1) };
});

const edgeRunOpts = z.object({
  data: z.string(),
  gateway: z.string().optional(),
  http: httpUrlText.optional(),
  fingerprint: z.string().optional(),
  ca: z.string().optional(),
  token: tokenText,
  rateLimit: rateText.optional(),
  pin: z.array(pinText),
  once: z.boolean().default(false),
  deviceId: z.string().optional(),
  label: z.array(z.string()),
  onUpdate: z.string().optional(),
  verbose: z.boolean().default(false),
});

function gatewayAddress(opts: z.output<typeof edgeRunOpts>): GatewayAddress {
  if (!opts.gateway && !opts.http) throw new UsageError("give --gateway URL");
  const address: { http?: string; quic?: string; fingerprint?: string; ca?: string } = {};
  if (opts.ca) address.ca = readFileSync(opts.ca, "utf8");
  if (opts.gateway?.startsWith("quic://")) {
    address.quic = opts.gateway;
  } else if (opts.gateway) {
    const http = httpUrlText.safeParse(opts.gateway);
    if (!http.success) throw new UsageError(`--gateway must be quic://HOST:PORT or http(s)://HOST:PORT, got ${opts.gateway}`);
    address.http = withScheme(http.data);
  }
  if (opts.http) address.http = opts.http;
  if (opts.fingerprint) address.fingerprint = opts.fingerprint;
  return address;
}

function logEvent(event: EdgeEvent, verbose: boolean): void {
  switch (event.kind) {
    case "acked":
      log[verbose ? "info" : "debug"]("acked {records} records of {stream} (epoch {epoch}, seq {seq})", { records: event.records, stream: event.stream, epoch: event.epoch, seq: event.seq });
      return;
    case "pin-updated":
      log.info("pinned {stream} → {path}: {artefact} ({size}, {downloaded} downloaded)", {
        stream: event.stream,
        path: event.path,
        artefact: event.artefact,
        size: formatBytes(event.size),
        downloaded: formatBytes(event.bytesTransferred),
      });
      return;
    case "notice":
      log.info("sync: {message}", { message: event.message });
      return;
    case "error":
      log.warning("sync: {message}{retry}", { message: event.message, retry: event.retryInMs !== null ? `; retrying in ${event.retryInMs} ms` : "" });
      return;
  }
}

export function registerEdgeRun(edge: Command): void {
  const command = edge
    .command("run")
    .description("Syncs an edge node's outbox and pins with a gateway.")
    .requiredOption("--data <DIR>", "the edge node's data directory")
    .option("--gateway <URL>", "the gateway: quic://HOST:PORT, or http://HOST:PORT (several gateways: http://A:PORT,http://B:PORT, docs/clients.md)")
    .option("--http <URL>", "the gateway's HTTP address beside quic:// (fallback and bulk candidate)")
    .option("--fingerprint <HEX>", "SHA-256 fingerprint of the gateway's QUIC certificate (Bun)")
    .option("--ca <FILE>", "PEM certificate the gateway's certificate chains to: QUIC's (Bun, Deno) and HTTPS's")
    .addOption(tokenOption())
    .option("--rate-limit <RATE>", "total sync bandwidth, e.g. 10MB/s or 500K (default unlimited)")
    .option("--pin <STREAM=PATH>", "keep STREAM's latest artefact at PATH (repeatable)", collect, [])
    .option("--once", "exit 0 once the outbox is drained and every pin checked")
    .option("--device-id <ID>", "the id the heartbeat reports (default: d- and the node's producer id in hex)")
    .option("--label <KEY=VALUE>", "a label rollouts select this device by (repeatable)", collect, [])
    .option("--on-update <CMD>", "shell command after each pin update (env STRATA_STREAM, STRATA_PATH, STRATA_ARTEFACT); a non-zero exit is reported as a failure")
    .option("--verbose", "log every acknowledged request")
    .option("-q, --quiet", "log only errors")
    .addHelpText("after", details);
  defineAction(command, { args: z.tuple([]), opts: edgeRunOpts }, async (_args, opts) => {
    const gateway = gatewayAddress(opts);
    const rate = opts.rateLimit ?? 0;
    // The outbox bound only limits publishing; the loop never adds rows.
    const node = await openEdge({
      dataDir: opts.data,
      gateway,
      ...(opts.token !== undefined ? { token: opts.token } : {}),
      maxOutboxBytes: Number.MAX_SAFE_INTEGER, rateLimitBytesPerSec: rate, onEvent: (e) => logEvent(e, opts.verbose),
      ...(opts.deviceId !== undefined ? { deviceId: opts.deviceId } : {}),
      labels: labelPairs(opts.label),
      version: VERSION });
    const stop = (): void => void node.stop();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    try {
      const hook = opts.onUpdate !== undefined ? updateHook(opts.onUpdate) : undefined;
      for (const pin of opts.pin) await node.pin(pin.stream, pin.path, hook);
      log.info("device {device}{labels}", { device: node.device.id, labels: opts.label.length > 0 ? ` (${opts.label.join(", ")})` : "" });
      if (rate > 0) log.info("sync bandwidth at most {rate}/s", { rate: formatBytes(rate) });
      await node.run({ once: opts.once });
      return 0;
    } catch (e) {
      if (!(e instanceof GatewayCertificateError)) throw e;
      // The address is misconfigured, like a wrong flag: exit 2, as a usage error does.
      log.error("the gateway's QUIC certificate is not the one configured (--fingerprint / --ca): {message}", { message: e.message });
      return 2;
    } finally {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      await node.close();
    }
  });
}
