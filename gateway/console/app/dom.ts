// Small DOM helpers for the console's pages: elements built from tag, attributes and children
// (text is always set as text, never parsed as HTML), tables, and the formats the pages share.

export type Child = Node | string | number | null | undefined | false;
export type Attributes = Readonly<Record<string, string | number | boolean | undefined>>;

/** An element with attributes (false or undefined leave one out) and children (strings become text nodes). */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
}

/** Replaces an element's children. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** A table with a header row; `name` is set as data-table so tests and styles can find it. */
export function table(name: string, headers: readonly string[], rows: readonly (readonly Child[])[], empty = "none"): HTMLTableElement {
  const body = rows.length === 0 ? [el("tr", {}, el("td", { colspan: headers.length, class: "empty" }, empty))] : rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c))));
  return el("table", { "data-table": name }, el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))), el("tbody", {}, ...body));
}

/** A link to another console page. */
export function pageLink(text: string, page: string, params: Readonly<Record<string, string | number>> = {}): HTMLAnchorElement {
  return el("a", { href: pageHash(page, params) }, text);
}

export function pageHash(page: string, params: Readonly<Record<string, string | number>> = {}): string {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();
  return `#/${page}${query.length > 0 ? `?${query}` : ""}`;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${UNITS[unit]}`;
}

export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

/** "3 s ago", "5 min ago", … from a time in ms since the epoch. */
export function formatAge(ms: number, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} d ago`;
}

export function formatDuration(ms: number | null): string {
  if (ms === null) return "none";
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** A manifest id shortened for tables; the whole id is the title. */
export function shortId(id: string): HTMLElement {
  return el("code", { title: id }, id.length > 16 ? `${id.slice(0, 16)}…` : id);
}

/** A JSON value as compact text, cut at `max` characters (the whole text is the title). */
export function jsonCell(value: unknown, max = 240): HTMLElement {
  const text = JSON.stringify(value) ?? "null";
  return el("code", { class: "json", title: text.length > max ? text : undefined }, text.length > max ? `${text.slice(0, max)}…` : text);
}

/** A measured figure to four significant digits, without an exponent ("10,010", "0.01234"). */
export function formatFigure(value: number): string {
  return Number(value.toPrecision(4)).toLocaleString("en", { maximumFractionDigits: 6 });
}
