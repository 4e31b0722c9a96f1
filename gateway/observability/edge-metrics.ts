// Edge devices' outbox depth (docs/metrics.md): the records waiting on each device to be sent, as
// its last heartbeat reported them (`outbox_records`, docs/fleet.md), set before every scrape from
// the fleet service. A device that is gone from the fleet loses its series at the next scrape.
import { isStrataError } from "../../core/errors.ts";
import type { MetricsRegistry } from "../metrics.ts";
import type { MetricsLimits } from "./metrics-limits.ts";

/** What the gauge reads (FleetService.devices, structurally): devices in id order, at most `limit`. */
export interface DeviceSource {
  devices(selector: Readonly<Record<string, string>>, limit: number | undefined, visible: (id: string) => boolean): { readonly devices: readonly { readonly id: string; readonly outbox_records: number }[] };
}

export function registerEdgeOutbox(registry: MetricsRegistry, fleet: DeviceSource, limits: Pick<MetricsLimits, "maxDevicesPerScrape">): void {
  const outbox = registry.gauge("strata_edge_outbox_records", "Records waiting in an edge device's outbox, as its last heartbeat reported.", ["device"]);
  registry.onCollect(() => {
    outbox.reset();
    if (limits.maxDevicesPerScrape === 0) return;
    let devices: readonly { readonly id: string; readonly outbox_records: number }[];
    try {
      ({ devices } = fleet.devices({}, limits.maxDevicesPerScrape, () => true));
    } catch (e) {
      if (isStrataError(e)) return; // cluster mode: the fleet is served by the coordinator
      throw e;
    }
    for (const d of devices) outbox.set({ device: d.id }, d.outbox_records);
  });
}
