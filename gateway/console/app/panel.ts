// A titled section of a page whose content is loading, ready or an error. Its `data-state`
// attribute mirrors the state, so the page's tests (and screen readers, via aria-busy) can tell
// when it has settled.
import { ConsoleApiError } from "./api.ts";
import { el, replaceChildren, type Child } from "./dom.ts";

export type PanelState = { readonly kind: "loading" } | { readonly kind: "ready"; readonly content: readonly Child[] } | { readonly kind: "error"; readonly message: string };

export class Panel {
  readonly element: HTMLElement;
  readonly #body: HTMLElement;
  #state: PanelState = { kind: "loading" };

  constructor(name: string, title: string, ...header: Child[]) {
    this.#body = el("div", { class: "panel-body" }, "loading…");
    this.element = el("section", { class: "panel", "data-panel": name, "data-state": "loading", "aria-busy": "true" }, el("header", {}, el("h2", {}, title), ...header), this.#body);
  }

  get state(): PanelState {
    return this.#state;
  }

  show(state: PanelState): void {
    this.#state = state;
    this.element.setAttribute("data-state", state.kind);
    this.element.setAttribute("aria-busy", String(state.kind === "loading"));
    switch (state.kind) {
      case "loading":
        replaceChildren(this.#body, "loading…");
        return;
      case "ready":
        replaceChildren(this.#body, ...state.content);
        return;
      case "error":
        replaceChildren(this.#body, el("p", { class: "error", role: "alert", "data-error": "" }, state.message));
        return;
    }
  }

  ready(...content: Child[]): void {
    this.show({ kind: "ready", content });
  }

  fail(error: unknown): void {
    this.show({ kind: "error", message: errorMessage(error) });
  }

  /** Runs `work`, showing what it throws as this panel's error unless `signal` was aborted (the page was left). */
  async guard(signal: AbortSignal, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (e) {
      if (!signal.aborted) this.fail(e);
    }
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof ConsoleApiError) return error.message;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
