// Consumer groups: the list (GET /v1/groups) with each group's total lag and a live chart of it
// per group, and one group (GET /v1/groups/{group}): members with their assignments, committed
// offsets and lag per partition, and a live chart of lag per partition. Both poll every second.
import { segment, type ConsoleApi } from "../api.ts";
import { el, formatAge, pageLink, table } from "../dom.ts";
import { LiveChart } from "../live-chart.ts";
import { LIVE_POLL_MS, type Page, type PageDefinition } from "../page.ts";
import { Panel } from "../panel.ts";
import { Poller } from "../poller.ts";
import { groupDescriptionSchema, groupListSchema, type GroupDescription } from "../schemas.ts";

const partitionsOf = (list: readonly { stream: string; partition: number }[]): string => list.map((tp) => `${tp.stream}/${tp.partition}`).join(", ");

function groupTables(group: GroupDescription): HTMLElement[] {
  const totalLag = group.partitions.reduce((sum, p) => sum + p.lag, 0);
  return [
    el("p", { "data-summary": "" }, `epoch ${group.group_epoch}; ${group.members.length} members; total lag `, el("strong", { "data-total-lag": totalLag }, String(totalLag)), " records"),
    table(
      "members",
      ["member", "instance", "state", "last heartbeat", "streams", "assigned", "revoking"],
      group.members.map((m) => [m.member, m.instance ?? "", m.state, formatAge(m.last_heartbeat), m.streams.join(", "), partitionsOf(m.assignment), partitionsOf(m.revoking)]),
      "no members (offsets only)",
    ),
    table(
      "lag",
      ["stream", "partition", "committed", "end offset", "lag"],
      group.partitions.map((p) => [pageLink(p.stream, "records", { stream: p.stream, partition: p.partition, offset: p.committed ?? 0 }), p.partition, p.committed ?? "none", p.end_offset, p.lag]),
    ),
  ];
}

/** Groups whose lag the overview polls (one describe each per poll); the list shows them all. */
const OVERVIEW_GROUPS = 12;

export const groupsPage: PageDefinition = {
  id: "groups",
  title: "Groups",
  open({ api, root, params }) {
    const name = params.get("group");
    return name === null ? openOverview(api, root) : openGroup(api, root, name);
  },
};

function openOverview(api: ConsoleApi, root: HTMLElement): Page {
  const list = new Panel("groups", "Consumer groups");
  const chart = new LiveChart({ name: "groups-lag", title: "total lag per group", unit: "records", maxSeries: OVERVIEW_GROUPS });
  root.append(chart.element, list.element);
  const poller = new Poller(LIVE_POLL_MS, (signal) =>
    list.guard(signal, async () => {
      const { groups } = await api.get("groups", groupListSchema, signal);
      const lags = new Map<string, number>();
      for (const g of groups.slice(0, OVERVIEW_GROUPS)) {
        const group = await api.get(`groups/${segment(g.group)}`, groupDescriptionSchema, signal);
        lags.set(g.group, group.partitions.reduce((sum, p) => sum + p.lag, 0));
      }
      chart.push(Date.now(), lags);
      list.ready(
        table(
          "groups",
          ["group", "epoch", "members", "streams", "total lag"],
          groups.map((g) => [pageLink(g.group, "groups", { group: g.group }), g.group_epoch, g.members, g.streams.join(", "), lags.get(g.group) ?? "…"]),
          "no groups visible to this token",
        ),
      );
    }),
  );
  return {
    dispose() {
      poller.stop();
      chart.dispose();
    },
  };
}

function openGroup(api: ConsoleApi, root: HTMLElement, name: string): Page {
  const detail = new Panel("group", `Group ${name}`, pageLink("all groups", "groups"));
  const chart = new LiveChart({ name: "group-lag", title: `lag of ${name} per partition`, unit: "records" });
  root.append(chart.element, detail.element);
  const poller = new Poller(LIVE_POLL_MS, (signal) =>
    detail.guard(signal, async () => {
      const group = await api.get(`groups/${segment(name)}`, groupDescriptionSchema, signal);
      chart.push(Date.now(), new Map(group.partitions.map((p) => [`${p.stream}/${p.partition}`, p.lag])));
      detail.ready(...groupTables(group));
    }),
  );
  return {
    dispose() {
      poller.stop();
      chart.dispose();
    },
  };
}
