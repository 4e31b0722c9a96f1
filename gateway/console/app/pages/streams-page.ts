// Streams: every stream the token may see (GET /v1/streams) with partitions, end offsets, bytes,
// retention, and records/s computed from successive polls of the end offsets; a live chart of
// records/s per stream.
import { el, formatBytes, formatDuration, pageLink, table } from "../dom.ts";
import { LiveChart } from "../live-chart.ts";
import { LIVE_POLL_MS, type PageDefinition } from "../page.ts";
import { Panel } from "../panel.ts";
import { Poller } from "../poller.ts";
import { streamListSchema, type StreamInfo } from "../schemas.ts";

const endOf = (stream: StreamInfo): number => stream.partitions.reduce((sum, p) => sum + p.end_offset, 0);

function retention(stream: StreamInfo): string {
  const parts = [stream.retention.ms === null ? undefined : formatDuration(stream.retention.ms), stream.retention.bytes === null ? undefined : formatBytes(stream.retention.bytes)].filter((p) => p !== undefined);
  return parts.length === 0 ? "forever" : parts.join(", ");
}

export const streamsPage: PageDefinition = {
  id: "streams",
  title: "Streams",
  open({ api, root }) {
    const panel = new Panel("streams", "Streams");
    const chart = new LiveChart({ name: "stream-rates", title: "records/s per stream", unit: "records/s" });
    root.append(chart.element, panel.element);
    let previous: { at: number; ends: Map<string, number> } | undefined;
    const poller = new Poller(LIVE_POLL_MS, (signal) =>
      panel.guard(signal, async () => {
        const { streams } = await api.get("streams", streamListSchema, signal);
        const at = Date.now();
        const ends = new Map(streams.map((s) => [s.name, endOf(s)]));
        const rates = new Map<string, number>();
        if (previous !== undefined && at > previous.at) {
          const seconds = (at - previous.at) / 1000;
          for (const [name, end] of ends) rates.set(name, Math.max(0, end - (previous.ends.get(name) ?? end)) / seconds);
          chart.push(at, rates);
        }
        previous = { at, ends };
        const rows = [...streams]
          .sort((a, b) => (a.name < b.name ? -1 : 1))
          .map((s) => [
            pageLink(s.name, "records", { stream: s.name, partition: 0, offset: Math.max(0, (s.partitions[0]?.end_offset ?? 0) - 20) }),
            s.partitions.length,
            el("span", { title: s.partitions.map((p) => `p${p.partition}: ${p.start_offset}–${p.end_offset}`).join("\n"), "data-end": endOf(s) }, String(endOf(s))),
            formatBytes(s.partitions.reduce((sum, p) => sum + p.bytes, 0)),
            rates.has(s.name) ? (rates.get(s.name) ?? 0).toFixed(1) : "…",
            retention(s),
            s.cleanup,
            pageLink("versions", "versions", { stream: s.name }),
          ]);
        panel.ready(table("streams", ["stream", "partitions", "records (end offset)", "bytes", "records/s", "retention", "cleanup", ""], rows, "no streams visible to this token"));
      }),
    );
    return {
      dispose() {
        poller.stop();
        chart.dispose();
      },
    };
  },
};
