// Work queues: the list (GET /v1/queues), one queue's configuration and counts per partition
// (GET /v1/queues/{group}, polled every second), and its newest dead letters, read from each
// stream's `<stream>.dlq` (docs/queues.md) with the error each carries.
import { ConsoleApiError, segment, type ConsoleApi } from "../api.ts";
import { el, formatDuration, formatTime, jsonCell, pageLink, table, type Child } from "../dom.ts";
import { LIVE_POLL_MS, type PageDefinition } from "../page.ts";
import { Panel } from "../panel.ts";
import { Poller } from "../poller.ts";
import { queueDescriptionSchema, queueListSchema, readResponseSchema, streamInfoSchema, type QueueDescription } from "../schemas.ts";

/** Dead letters shown per dead-letter partition. */
const DEAD_LETTERS_SHOWN = 20;

function queueTables(queue: QueueDescription): HTMLElement[] {
  const { config, totals } = queue;
  return [
    el("p", { "data-summary": "" }, `max deliveries ${config.max_deliveries}; visibility ${formatDuration(config.visibility_ms)}; in flight ${totals.in_flight}; pending ${totals.pending}; redelivered ${totals.redelivered}; dead-lettered ${totals.dead_lettered}; acked ${totals.acked}`),
    table(
      "queue-partitions",
      ["stream", "partition", "cursor", "end offset", "in flight", "pending", "redelivered", "dead-lettered", "acked"],
      queue.partitions.map((p) => [p.stream, p.partition, p.cursor, p.end_offset, p.in_flight, p.pending, p.redelivered, p.dead_lettered, p.acked]),
    ),
  ];
}

const header = (headers: Readonly<Record<string, unknown>>, name: string): string => {
  const value = headers[name];
  return typeof value === "string" ? value : "";
};

/** The newest dead letters of one queue's streams, or a note that there are none. */
async function deadLetters(api: ConsoleApi, group: string, streams: readonly string[], signal: AbortSignal): Promise<Child[]> {
  const rows: Child[][] = [];
  for (const stream of streams) {
    const dlq = `${stream}.dlq`;
    let info;
    try {
      info = await api.get(`streams/${segment(dlq)}`, streamInfoSchema, signal);
    } catch (e) {
      if (e instanceof ConsoleApiError && e.status === 404) continue; // nothing dead-lettered from this stream yet
      throw e;
    }
    for (const p of info.partitions) {
      const from = Math.max(p.start_offset, p.end_offset - DEAD_LETTERS_SHOWN);
      if (from >= p.end_offset) continue;
      const read = await api.get(`streams/${segment(dlq)}/partitions/${p.partition}/records?offset=${from}&max_records=${DEAD_LETTERS_SHOWN}`, readResponseSchema, signal);
      for (const r of read.records) {
        if (header(r.headers, "strata-dlq-group") !== group) continue;
        rows.push([
          pageLink(`${dlq}/${p.partition}@${r.offset}`, "records", { stream: dlq, partition: p.partition, offset: r.offset }),
          formatTime(r.timestamp),
          `${header(r.headers, "strata-dlq-stream")}/${header(r.headers, "strata-dlq-partition")}@${header(r.headers, "strata-dlq-offset")}`,
          header(r.headers, "strata-dlq-deliveries"),
          header(r.headers, "strata-dlq-error"),
          jsonCell(r.fields, 120),
        ]);
      }
    }
  }
  rows.reverse();
  return [table("dead-letters", ["dead letter", "time", "original", "deliveries", "last error", "fields"], rows, "no dead letters")];
}

export const queuesPage: PageDefinition = {
  id: "queues",
  title: "Queues",
  open({ api, root, params }) {
    const list = new Panel("queues", "Work queues");
    root.append(list.element);
    const controller = new AbortController();
    const listed = api.get("queues", queueListSchema, controller.signal);
    void list.guard(controller.signal, async () => {
      const { queues } = await listed;
      list.ready(table("queues", ["queue", "streams"], queues.map((q) => [pageLink(q.group, "queues", { group: q.group }), q.streams.join(", ")]), "no queues visible to this token"));
    });
    const name = params.get("group");
    if (name === null) return { dispose: () => controller.abort() };

    const detail = new Panel("queue", `Queue ${name}`);
    const dead = new Panel("dead-letters", `Dead letters of ${name}`);
    root.prepend(detail.element, dead.element);
    const poller = new Poller(LIVE_POLL_MS, (signal) =>
      detail.guard(signal, async () => {
        detail.ready(...queueTables(await api.get(`queues/${segment(name)}`, queueDescriptionSchema, signal)));
      }),
    );
    void dead.guard(controller.signal, async () => {
      const { queues } = await listed;
      const streams = queues.find((q) => q.group === name)?.streams ?? [];
      dead.ready(...(await deadLetters(api, name, streams, controller.signal)));
    });
    return {
      dispose() {
        controller.abort();
        poller.stop();
      },
    };
  },
};
