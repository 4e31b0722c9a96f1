// Record browser: one partition of a stream from an offset, with the read route's `fields=`
// projection and `filter=` CEL expression (docs/filters.md), paged by next_offset. The form's
// values live in the hash route, so a view can be linked and the back button pages back.
import { base64ToBytes } from "../../../../core/log/json-value.ts";
import { segment } from "../api.ts";
import { el, formatTime, jsonCell, pageHash, replaceChildren, table, type Child } from "../dom.ts";
import type { PageDefinition } from "../page.ts";
import { Panel } from "../panel.ts";
import { readResponseSchema, streamListSchema, type JsonBytes } from "../schemas.ts";

const PAGE_RECORDS = 50;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A key or header value: its text when it is UTF-8, else its base64. */
function bytesCell(value: JsonBytes | string | null): Child {
  if (value === null) return el("span", { class: "muted" }, "null");
  if (typeof value === "string") return value;
  try {
    return utf8.decode(base64ToBytes(value.$base64));
  } catch {
    return el("code", { title: "not UTF-8: base64" }, value.$base64);
  }
}

function field(name: string, label: string, value: string, attributes: Record<string, string> = {}): HTMLElement {
  return el("label", {}, label, el("input", { name, value, ...attributes }));
}

export const recordsPage: PageDefinition = {
  id: "records",
  title: "Records",
  open({ api, root, params }) {
    const stream = params.get("stream") ?? "";
    const partition = params.get("partition") ?? "0";
    const offset = params.get("offset") ?? "0";
    const fields = params.get("fields") ?? "";
    const filter = params.get("filter") ?? "";
    const form = el(
      "form",
      { class: "query", "data-form": "records" },
      field("stream", "stream", stream, { required: "", placeholder: "sensors/a", list: "stream-names" }),
      field("partition", "partition", partition, { inputmode: "numeric", size: "4" }),
      field("offset", "offset", offset, { inputmode: "numeric", size: "8" }),
      field("fields", "fields", fields, { placeholder: "a,b (all when empty)" }),
      field("filter", "filter (CEL)", filter, { placeholder: "fields.score > 0.9", size: "36" }),
      el("button", { type: "submit" }, "read"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const next: Record<string, string> = {};
      for (const key of ["stream", "partition", "offset", "fields", "filter"]) {
        const value = data.get(key);
        if (typeof value === "string" && value.trim().length > 0) next[key] = value.trim();
      }
      location.hash = pageHash("records", next);
    });
    const panel = new Panel("records", "Records");
    const names = el("datalist", { id: "stream-names" });
    root.append(form, names, panel.element);
    const controller = new AbortController();
    // The stream field suggests the streams the token sees; the form works without them.
    api
      .get("streams", streamListSchema, controller.signal)
      .then(({ streams }) => replaceChildren(names, ...streams.map((s) => el("option", { value: s.name }))))
      .catch(() => undefined);
    if (stream.length === 0) {
      panel.ready(el("p", {}, "Name a stream (or pick one on the Streams page)."));
    } else {
      const query = new URLSearchParams({ offset, max_records: String(PAGE_RECORDS) });
      if (fields.length > 0) query.set("fields", fields);
      if (filter.length > 0) query.set("filter", filter);
      void panel.guard(controller.signal, async () => {
        const answer = await api.get(`streams/${segment(stream)}/partitions/${segment(partition)}/records?${query}`, readResponseSchema, controller.signal);
        const rows = answer.records.map((r) => [
          r.offset,
          formatTime(r.timestamp),
          bytesCell(r.key),
          Object.keys(r.headers).length === 0 ? "" : el("span", {}, ...Object.entries(r.headers).map(([k, v]) => el("div", {}, `${k}: `, bytesCell(v)))),
          r.fields === null ? el("span", { class: "muted" }, "tombstone") : jsonCell(r.fields),
        ]);
        const base = { stream, partition, ...(fields.length > 0 ? { fields } : {}), ...(filter.length > 0 ? { filter } : {}) };
        const older = Math.max(0, Number(offset) - PAGE_RECORDS);
        panel.ready(
          el("p", { "data-summary": "" }, `${answer.records.length} records from offset ${offset}; partition end ${answer.end_offset}; next ${answer.next_offset}`),
          table("records", ["offset", "time", "key", "headers", "fields"], rows, "no records here"),
          el(
            "nav",
            { class: "pager" },
            Number(offset) > 0 ? el("a", { href: pageHash("records", { ...base, offset: older }), "data-page": "older" }, "← older") : null,
            answer.next_offset < answer.end_offset ? el("a", { href: pageHash("records", { ...base, offset: answer.next_offset }), "data-page": "newer" }, "newer →") : null,
          ),
        );
      });
    }
    return { dispose: () => controller.abort() };
  },
};
