// Artefact versions (docs/versions.md): the artefacts published on a stream, newest first
// (GET /v1/streams/{name}/versions), with manifest id, size, media type and file name, paged
// back with `before`. Streams are picked from GET /v1/streams.
import { segment } from "../api.ts";
import { el, formatBytes, formatTime, pageHash, pageLink, shortId, table } from "../dom.ts";
import type { PageDefinition } from "../page.ts";
import { Panel } from "../panel.ts";
import { streamListSchema, versionListSchema } from "../schemas.ts";

const PAGE_VERSIONS = 50;

export const versionsPage: PageDefinition = {
  id: "versions",
  title: "Versions",
  open({ api, root, params }) {
    const controller = new AbortController();
    const { signal } = controller;
    const picker = new Panel("version-streams", "Streams");
    root.append(picker.element);
    void picker.guard(signal, async () => {
      const { streams } = await api.get("streams", streamListSchema, signal);
      picker.ready(el("p", { class: "links" }, ...streams.flatMap((s) => [pageLink(s.name, "versions", { stream: s.name }), " "])));
    });
    const stream = params.get("stream");
    if (stream !== null) {
      const before = params.get("before");
      const panel = new Panel("versions", `Artefact versions of ${stream}`);
      root.prepend(panel.element);
      const query = new URLSearchParams({ limit: String(PAGE_VERSIONS) });
      if (before !== null) query.set("before", before);
      void panel.guard(signal, async () => {
        const answer = await api.get(`streams/${segment(stream)}/versions?${query}`, versionListSchema, signal);
        panel.ready(
          table(
            "versions",
            ["record", "time", "artefact", "size", "media type", "file"],
            answer.versions.map((v) => [
              pageLink(`${v.partition}@${v.offset}`, "records", { stream, partition: v.partition, offset: v.offset }),
              formatTime(v.timestamp),
              shortId(v.artefact),
              formatBytes(v.size),
              v.media_type,
              v.file_name ?? "",
            ]),
            "no artefacts published on this stream",
          ),
          answer.next_before === null ? null : el("nav", { class: "pager" }, el("a", { href: pageHash("versions", { stream, before: answer.next_before }), "data-page": "older" }, "older →")),
        );
      });
    }
    return { dispose: () => controller.abort() };
  },
};
