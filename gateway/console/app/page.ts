// What every console page is: opened into the main element with the API and the hash route's
// query parameters, disposed (polls stopped, charts destroyed) when the route changes.
import type { ConsoleApi } from "./api.ts";

export interface PageContext {
  readonly api: ConsoleApi;
  readonly root: HTMLElement;
  /** The query of the hash route (`#/records?stream=a&partition=0`). */
  readonly params: URLSearchParams;
}

export interface Page {
  dispose(): void;
}

export interface PageDefinition {
  /** The hash route: `#/<id>`. */
  readonly id: string;
  readonly title: string;
  open(context: PageContext): Page;
}

/** Poll interval of the live pages (streams, groups, queues). */
export const LIVE_POLL_MS = 1000;
