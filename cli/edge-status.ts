// `strata edge status --data DIR [--json]`: the outbox, the last sync and the pins of an edge node.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { EDGE_DB_FILE } from "../edge/db/database.ts";
import { openEdge } from "../edge/index.ts";
import { defineAction, UsageError } from "./command.ts";
import { formatBytes } from "./progress-bar.ts";
import { writeOut } from "./stdout.ts";

const details = `
Prints the edge node's outbox (records and encoded bytes not yet acknowledged by the gateway),
the time of its last sync, and its pins. With --json one object:
{"outbox_records", "outbox_bytes", "last_sync", "pins": [{"stream", "path", "artefact", "updated"}],
 "transport": {"publish": "quic"|"http", "bulk": "quic"|"http",
               "measured": {"quic_mbps", "http_mbps", "at", "reason"}}}
(times in ISO 8601, null when never; transport is the last run's choice, null if never run).`;

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function registerEdgeStatus(edge: Command): void {
  const command = edge
    .command("status")
    .description("Shows an edge node's outbox, last sync and pins.")
    .requiredOption("--data <DIR>", "the edge node's data directory")
    .option("--json", "print one JSON object")
    .addHelpText("after", details);
  defineAction(command, { args: z.tuple([]), opts: z.object({ data: z.string(), json: z.boolean().default(false) }) }, async (_args, opts) => {
    if (!existsSync(join(opts.data, EDGE_DB_FILE))) throw new UsageError(`${opts.data} is not an edge data directory (no ${EDGE_DB_FILE})`);
    // Status only reads: the bound matters to publishing alone.
    const node = await openEdge({ dataDir: opts.data, maxOutboxBytes: Number.MAX_SAFE_INTEGER });
    try {
      const s = await node.status();
      const pins = s.pins.map((p) => ({ stream: p.stream, path: p.path, artefact: p.artefact, updated: iso(p.updated) }));
      if (opts.json) {
        const transport = s.transport ? { ...s.transport, measured: { ...s.transport.measured, at: iso(s.transport.measured.at) } } : null;
        await writeOut(`${JSON.stringify({ outbox_records: s.outboxRecords, outbox_bytes: s.outboxBytes, last_sync: iso(s.lastSync), pins, transport })}\n`);
        return 0;
      }
      const lines = [
        `producer   ${s.producer.id} (epoch ${s.producer.epoch})`,
        `device     ${node.device.id} (the default id of heartbeats; edge run --device-id overrides it)`,
        `outbox     ${s.outboxRecords} records, ${formatBytes(s.outboxBytes)}`,
        `last sync  ${iso(s.lastSync) ?? "never"}`,
        ...(s.transport
          ? [`transport  publish ${s.transport.publish}, bulk ${s.transport.bulk} (QUIC ${s.transport.measured.quic_mbps ?? "-"} MB/s, HTTP ${s.transport.measured.http_mbps ?? "-"} MB/s; ${s.transport.measured.reason})`]
          : []),
        ...pins.map((p) => `pin        ${p.stream} → ${p.path}: ${p.artefact ?? "not pulled yet"}${p.updated ? ` (${p.updated})` : ""}`),
      ];
      await writeOut(`${lines.join("\n")}\n`);
      return 0;
    } finally {
      await node.close();
    }
  });
}
