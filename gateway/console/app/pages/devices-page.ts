// Edge devices and rollouts (docs/fleet.md): what each device runs (its pins and the artefact each
// holds), its software version and transport, its outbox depth and last heartbeat
// (GET /v1/devices, polled), and the staged rollouts (GET /v1/rollouts).
import { el, formatAge, pageLink, shortId, table } from "../dom.ts";
import { LIVE_POLL_MS, type PageDefinition } from "../page.ts";
import { Panel } from "../panel.ts";
import { Poller } from "../poller.ts";
import { deviceListSchema, rolloutListSchema } from "../schemas.ts";

const labelText = (labels: Readonly<Record<string, string>>): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");

export const devicesPage: PageDefinition = {
  id: "devices",
  title: "Devices",
  open({ api, root }) {
    const devices = new Panel("devices", "Edge devices");
    const rollouts = new Panel("rollouts", "Rollouts");
    root.append(devices.element, rollouts.element);
    const poller = new Poller(LIVE_POLL_MS * 5, async (signal) => {
      await devices.guard(signal, async () => {
        const answer = await api.get("devices", deviceListSchema, signal);
        devices.ready(
          table(
            "devices",
            ["device", "labels", "runs (pin → artefact)", "version", "transport", "outbox records", "last heartbeat", "errors"],
            answer.devices.map((d) => [
              d.id,
              labelText(d.labels),
              el("span", {}, ...Object.entries(d.pins).map(([stream, artefact]) => el("div", {}, pageLink(stream, "versions", { stream }), " → ", artefact === null ? "nothing yet" : shortId(artefact)))),
              d.version,
              d.transport,
              d.outbox_records,
              formatAge(d.last_seen),
              d.errors.length === 0 ? "" : el("span", { class: "error", title: JSON.stringify(d.errors) }, String(d.errors.length)),
            ]),
            "no devices visible to this token",
          ),
          answer.truncated ? el("p", { class: "muted" }, "the list is cut at the gateway's limit") : null,
        );
      });
      await rollouts.guard(signal, async () => {
        const { rollouts: list } = await api.get("rollouts", rolloutListSchema, signal);
        rollouts.ready(
          table(
            "rollouts",
            ["rollout", "stream", "artefact", "previous", "percent", "state", "devices (target / selected / failed)", "reason"],
            list.map((r) => [r.id, r.stream, shortId(r.artefact), r.previous === null ? "" : shortId(r.previous), `${r.percent} %`, r.state, `${r.devices.target} / ${r.devices.selected} / ${r.devices.failed}`, r.reason ?? ""]),
            "no rollouts",
          ),
        );
      });
    });
    return { dispose: () => poller.stop() };
  },
};
