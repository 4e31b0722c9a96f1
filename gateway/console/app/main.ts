// The console's entry: the navigation, the token form, and the hash router that opens one page at
// a time into <main> (disposing the last: its polls stop, its charts go).
import { ConsoleApi } from "./api.ts";
import { el, pageHash, replaceChildren } from "./dom.ts";
import type { Page, PageDefinition } from "./page.ts";
import { anomaliesPage } from "./pages/anomalies-page.ts";
import { datasetsPage } from "./pages/datasets-page.ts";
import { devicesPage } from "./pages/devices-page.ts";
import { groupsPage } from "./pages/groups-page.ts";
import { queuesPage } from "./pages/queues-page.ts";
import { recordsPage } from "./pages/records-page.ts";
import { streamsPage } from "./pages/streams-page.ts";
import { versionsPage } from "./pages/versions-page.ts";
import { forgetToken, storedToken, storeToken } from "./token.ts";

const PAGES: readonly PageDefinition[] = [streamsPage, recordsPage, groupsPage, queuesPage, datasetsPage, versionsPage, devicesPage, anomaliesPage];

/** `#/groups?group=g` → the groups page and its query; anything else → streams. */
function route(hash: string): { page: PageDefinition; params: URLSearchParams } {
  const match = /^#\/([a-z]+)(?:\?(.*))?$/.exec(hash);
  const page = PAGES.find((p) => p.id === match?.[1]) ?? streamsPage;
  return { page, params: new URLSearchParams(match?.[2] ?? "") };
}

function tokenForm(onChange: () => void): HTMLElement {
  const input = el("input", { id: "token", type: "password", autocomplete: "off", placeholder: "bearer token (none needed without --auth)", size: "48" });
  const status = el("span", { id: "token-status", class: "muted" });
  const showStatus = () => replaceChildren(status, storedToken() === undefined ? "no token" : "token set for this tab");
  const form = el("form", { id: "token-form" }, input, el("button", { type: "submit" }, "use token"), el("button", { type: "button", id: "token-clear" }, "forget"), status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    storeToken(input.value);
    input.value = "";
    showStatus();
    onChange();
  });
  form.querySelector("#token-clear")?.addEventListener("click", () => {
    forgetToken();
    showStatus();
    onChange();
  });
  showStatus();
  return form;
}

function start(): void {
  const api = new ConsoleApi(location.href);
  const nav = el("nav", { id: "nav" }, ...PAGES.map((p) => el("a", { href: pageHash(p.id), "data-nav": p.id }, p.title)));
  const main = el("main", { id: "main" });
  let current: Page | undefined;
  const open = () => {
    current?.dispose();
    const { page, params } = route(location.hash);
    for (const link of Array.from(nav.querySelectorAll("a"))) link.classList.toggle("active", link.getAttribute("data-nav") === page.id);
    // Pages append and prepend their panels in `root`, below the page's title.
    const root = el("div", { class: "page" });
    replaceChildren(main, el("h1", {}, page.title), root);
    main.setAttribute("data-page", page.id);
    current = page.open({ api, root, params });
  };
  document.body.replaceChildren(el("header", { id: "top" }, el("strong", {}, "Strata console"), tokenForm(open)), nav, main);
  window.addEventListener("hashchange", open);
  open();
}

start();
