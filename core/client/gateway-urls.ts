// A client's gateways: one URL, a comma-separated list or an array of them (several gateways of a
// cluster, or one load balancer URL), and which of them requests go to. The choice is sticky: a
// gateway that answers keeps being used until a request to it fails, then the next URL of the
// list takes over (round robin), so a load balancer URL behaves like a list of one.
import { invariant, StrataError } from "../errors.ts";

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** `host:port` → `http://host:port`; a URL with a scheme is kept. Trailing slashes go. */
export function withHttpScheme(text: string): string {
  const url = SCHEME.test(text) ? text : `http://${text}`;
  return url.replace(/\/+$/, "");
}

/**
 * The gateway URLs of `input`: a string (one URL, or several separated by commas) or an array of
 * them, each an http(s) URL (a URL without a scheme means http), normalized and without repeats.
 * Throws BAD_REQUEST naming the URL that is not one.
 */
export function parseGatewayUrls(input: string | readonly string[]): string[] {
  const parts = (typeof input === "string" ? [input] : input).flatMap((text) => text.split(",")).map((text) => text.trim());
  const urls: string[] = [];
  for (const part of parts) {
    if (part === "") continue;
    const url = withHttpScheme(part);
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch {
      // reported below
    }
    if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:") || parsed.hostname === "") {
      throw new StrataError("BAD_REQUEST", `a gateway URL must be an http(s) URL like http://127.0.0.1:7070 or 127.0.0.1:7070, got ${part}`);
    }
    if (!urls.includes(url)) urls.push(url);
  }
  if (urls.length === 0) throw new StrataError("BAD_REQUEST", "give at least one gateway URL");
  return urls;
}

export class GatewayEndpoints {
  readonly urls: readonly string[];
  /** Which URL requests go to: an index into the list, moved on by failures only. */
  #index = 0;

  constructor(input: string | readonly string[]) {
    this.urls = Object.freeze(parseGatewayUrls(input));
  }

  /** The URL the next request goes to. */
  current(): string {
    const url = this.urls[this.#index];
    invariant(url !== undefined, `gateway choice ${this.#index} is outside the ${this.urls.length} URLs`);
    return url;
  }

  /** A request to `url` failed: when it is the current one, the next URL of the list takes over. Answers the URL to use now. */
  failed(url: string): string {
    if (this.current() === url) this.#index = (this.#index + 1) % this.urls.length;
    return this.current();
  }

  /** `url` answered: it stays (or becomes) the one requests go to. */
  answered(url: string): void {
    const index = this.urls.indexOf(url);
    if (index >= 0) this.#index = index;
  }

  /** The list URL that `url` starts with and the rest of it (path and query), or undefined when it is none of ours. */
  split(url: string): { readonly base: string; readonly rest: string } | undefined {
    for (const base of this.urls) {
      if (url === base || url.startsWith(`${base}/`) || url.startsWith(`${base}?`)) return { base, rest: url.slice(base.length) };
    }
    return undefined;
  }
}
