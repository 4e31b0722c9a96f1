// The --gateway flag: where the client commands send their requests. A URL without a scheme
// (`127.0.0.1:7070`, `gw.example:7070/`) means http, as curl reads it.
import { Option } from "commander";
import { z } from "zod";

export const DEFAULT_GATEWAY = "http://127.0.0.1:7070";

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** `host:port` → `http://host:port`; a URL with a scheme is kept. Trailing slashes go. */
export function withScheme(text: string): string {
  const url = SCHEME.test(text) ? text : `http://${text}`;
  return url.replace(/\/+$/, "");
}

/** An http(s) URL (scheme optional), normalized. */
export const httpUrlText = z.string().transform((text, ctx) => {
  const url = withScheme(text);
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:") || parsed.hostname === "") {
    ctx.issues.push({ code: "custom", message: `must be an http(s) URL like http://127.0.0.1:7070 or 127.0.0.1:7070, got ${text}`, input: text });
    return z.NEVER;
  }
  return url;
});

export function gatewayOption(): Option {
  return new Option("--gateway <URL>", "the gateway's HTTP address (a URL without a scheme means http)").env("STRATA_GATEWAY").default(DEFAULT_GATEWAY);
}
