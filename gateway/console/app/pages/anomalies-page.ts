// Anomalies (docs/anomalies.md): the flags of the `_strata/anomalies` stream through
// GET /v1/anomalies, newest first. The first read (no `after`) answers the newest PAGE flags;
// later polls page forward from `next`, keeping the newest KEPT in memory.
import { ConsoleApiError } from "../api.ts";
import { el, formatFigure, formatTime, pageLink, table } from "../dom.ts";
import { LIVE_POLL_MS, type PageDefinition } from "../page.ts";
import { Panel } from "../panel.ts";
import { Poller } from "../poller.ts";
import { anomalyListSchema, type Anomaly } from "../schemas.ts";

const PAGE = 200;
const KEPT = 500;
/** Pages read per poll, so a long backlog is caught up over several polls, not one burst. */
const PAGES_PER_POLL = 10;

const subject = (a: Anomaly): string => [a.stream, a.group, a.partition === undefined ? undefined : `p${a.partition}`].filter((s) => s !== undefined).join(" ");

export const anomaliesPage: PageDefinition = {
  id: "anomalies",
  title: "Anomalies",
  open({ api, root }) {
    const panel = new Panel("anomalies", "Anomalies");
    root.append(panel.element);
    let kept: Anomaly[] = [];
    let after: number | undefined;
    const poller = new Poller(LIVE_POLL_MS * 2, (signal) =>
      panel.guard(signal, async () => {
        for (let page = 0; page < PAGES_PER_POLL; page++) {
          const query = new URLSearchParams({ limit: String(PAGE) });
          if (after !== undefined) query.set("after", String(after));
          const answer = await api.get(`anomalies?${query}`, anomalyListSchema, signal).catch((e: unknown) => {
            // An `after` past the stream's end: the gateway was reset under the page. Start over from the newest.
            if (e instanceof ConsoleApiError && e.status === 400 && after !== undefined) {
              after = undefined;
              kept = [];
            }
            throw e;
          });
          kept = [...kept, ...answer.anomalies].slice(-KEPT);
          const moved = answer.next !== after;
          after = answer.next;
          if (answer.anomalies.length < PAGE || !moved) break;
        }
        const rows = [...kept]
          .reverse()
          .map((a) => [
            formatTime(a.timestamp),
            a.kind,
            a.stream === undefined ? subject(a) : el("span", {}, pageLink(a.stream, "records", { stream: a.stream, partition: a.partition ?? 0 }), a.group === undefined ? "" : ` ${a.group}`),
            formatFigure(a.value),
            `${formatFigure(a.mean)} ± ${formatFigure(a.stddev)}`,
            formatFigure(a.threshold),
            a.reason,
          ]);
        panel.ready(table("anomalies", ["time", "kind", "where", "value", "usual (mean ± sd)", "threshold", "reason"], rows, "no anomalies flagged"));
      }),
    );
    return { dispose: () => poller.stop() };
  },
};
