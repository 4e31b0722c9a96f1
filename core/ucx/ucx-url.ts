// `ucx://HOST:PORT` (HOST a name, an IPv4 address or a bracketed IPv6 address), as `strata pull
// --via` and the segment reader take it.
import { StrataError } from "../errors.ts";

export interface UcxAddress {
  readonly host: string;
  readonly port: number;
}

export function parseUcxUrl(text: string): UcxAddress {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new StrataError("BAD_REQUEST", `not a ucx://HOST:PORT URL: ${text}`);
  }
  const port = Number(url.port);
  if (url.protocol !== "ucx:" || url.hostname === "" || url.port === "" || !(port >= 1 && port <= 65535) || (url.pathname !== "" && url.pathname !== "/") || url.search !== "" || url.username !== "") {
    throw new StrataError("BAD_REQUEST", `not a ucx://HOST:PORT URL: ${text}`);
  }
  return { host: url.hostname.replace(/^\[(.*)\]$/, "$1"), port };
}
