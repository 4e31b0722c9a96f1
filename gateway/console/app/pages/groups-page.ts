// Consumer groups: the list (GET /v1/groups) and one group (GET /v1/groups/{group}): members with
// their assignments, committed offsets and lag per partition, and a live chart of lag per
// partition polled every second.
import { segment } from "../api.ts";
import { el, formatAge, pageLink, table } from "../dom.ts";
import { LiveChart } from "../live-chart.ts";
import { LIVE_POLL_MS, type PageDefinition } from "../page.ts";
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

export const groupsPage: PageDefinition = {
  id: "groups",
  title: "Groups",
  open({ api, root, params }) {
    const list = new Panel("groups", "Consumer groups");
    root.append(list.element);
    const controller = new AbortController();
    api
      .get("groups", groupListSchema, controller.signal)
      .then(({ groups }) =>
        list.ready(
          table(
            "groups",
            ["group", "epoch", "members", "streams"],
            groups.map((g) => [pageLink(g.group, "groups", { group: g.group }), g.group_epoch, g.members, g.streams.join(", ")]),
            "no groups visible to this token",
          ),
        ),
      )
      .catch((e: unknown) => {
        if (!controller.signal.aborted) list.fail(e);
      });
    const name = params.get("group");
    if (name === null) return { dispose: () => controller.abort() };

    const detail = new Panel("group", `Group ${name}`);
    const chart = new LiveChart({ name: "group-lag", title: `lag of ${name} per partition`, unit: "records" });
    root.prepend(chart.element, detail.element);
    const poller = new Poller(LIVE_POLL_MS, async (signal) => {
      try {
        const group = await api.get(`groups/${segment(name)}`, groupDescriptionSchema, signal);
        chart.push(Date.now(), new Map(group.partitions.map((p) => [`${p.stream}/${p.partition}`, p.lag])));
        detail.ready(...groupTables(group));
      } catch (e) {
        if (!signal.aborted) detail.fail(e);
      }
    });
    return {
      dispose() {
        controller.abort();
        poller.stop();
        chart.dispose();
      },
    };
  },
};
