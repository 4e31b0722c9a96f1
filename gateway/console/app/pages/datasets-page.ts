// Datasets (docs/datasets.md): the list (GET /v1/datasets) and one dataset's immutable versions
// (GET /v1/datasets/{name}): the pinned offset ranges, filter, fields, samples and bytes.
import { segment } from "../api.ts";
import { el, formatBytes, formatTime, pageLink, table } from "../dom.ts";
import type { PageDefinition } from "../page.ts";
import { Panel } from "../panel.ts";
import { datasetDescriptionSchema, datasetListSchema } from "../schemas.ts";

export const datasetsPage: PageDefinition = {
  id: "datasets",
  title: "Datasets",
  open({ api, root, params }) {
    const controller = new AbortController();
    const list = new Panel("datasets", "Datasets");
    root.append(list.element);
    void list.guard(controller.signal, async () => {
      const { datasets } = await api.get("datasets", datasetListSchema, controller.signal);
      list.ready(table("datasets", ["dataset", "stream", "versions", "latest"], datasets.map((d) => [pageLink(d.name, "datasets", { dataset: d.name }), d.stream, d.versions, d.latest]), "no datasets visible to this token"));
    });
    const name = params.get("dataset");
    if (name !== null) {
      const detail = new Panel("dataset", `Dataset ${name}`);
      root.prepend(detail.element);
      void detail.guard(controller.signal, async () => {
        const { versions } = await api.get(`datasets/${segment(name)}`, datasetDescriptionSchema, controller.signal);
        const rows = [...versions]
          .sort((a, b) => b.version - a.version)
          .map((v) => [
            v.version,
            formatTime(v.created_at),
            v.stream,
            v.samples,
            formatBytes(v.bytes),
            v.filter === null ? "" : el("code", {}, v.filter),
            v.fields?.join(", ") ?? "all",
            v.partitions.map((p) => `p${p.partition}: ${p.start}–${p.end}`).join("; "),
          ]);
        detail.ready(table("dataset-versions", ["version", "created", "stream", "samples", "bytes", "filter", "fields", "ranges"], rows));
      });
    }
    return { dispose: () => controller.abort() };
  },
};
