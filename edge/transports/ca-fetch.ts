// A fetch that trusts one more certificate authority: for a gateway serving HTTPS with a
// certificate of its own (`strata serve --tls-cert`), given to clients as `--ca FILE`.
// Bun takes the CA per request (`tls.ca`), Deno per HTTP client (`Deno.createHttpClient`).
// Node's fetch takes none without undici's Agent (not a dependency): there the process trusts
// the CA from the start with NODE_EXTRA_CA_CERTS=FILE. No node: import, so browsers bundle it.
import { StrataError } from "../../core/errors.ts";

interface DenoHttpClientFactory {
  createHttpClient(options: { caCerts: string[] }): object;
}

type FetchWithOptions = (input: string | URL | Request, init: RequestInit & Record<string, unknown>) => Promise<Response>;

/** `fetch` trusting `caPem` (PEM text of one or more certificates) besides the system's CAs. */
export function fetchTrusting(caPem: string): typeof fetch {
  const g = globalThis as { Bun?: object; Deno?: DenoHttpClientFactory };
  // The runtime's fetch, typed to take its own extra init fields (tls, client).
  const runtimeFetch: FetchWithOptions = (input, init) => fetch(input, init);
  if (g.Bun) {
    const trusting = (input: string | URL | Request, init?: RequestInit): Promise<Response> => runtimeFetch(input, { ...init, tls: { ca: caPem } });
    return Object.assign(trusting, { preconnect: fetch.preconnect });
  }
  if (g.Deno) {
    const client = g.Deno.createHttpClient({ caCerts: [caPem] });
    const trusting = (input: string | URL | Request, init?: RequestInit): Promise<Response> => runtimeFetch(input, { ...init, client });
    return Object.assign(trusting, { preconnect: fetch.preconnect });
  }
  throw new StrataError("BAD_REQUEST", "a CA for HTTPS (--ca) needs Bun or Deno; under Node, start the process with NODE_EXTRA_CA_CERTS=FILE instead");
}
