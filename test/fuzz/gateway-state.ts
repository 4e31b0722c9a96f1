// What a rejected request must leave as it was: the catalog (streams and their partitions), every
// partition's offsets and the fuzzed consumer groups' offsets, read over HTTP from the gateway.
import { FUZZ_GROUPS } from "./http-requests.ts";

interface StreamList {
  readonly streams: readonly { readonly name: string }[];
}

async function json(url: string): Promise<unknown> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

/** A canonical text of the gateway's state, equal before and after a request that changed nothing. */
export async function gatewayState(baseUrl: string): Promise<string> {
  const list = (await json(`${baseUrl}/v1/streams`)) as StreamList;
  // Internal `_strata/` streams (anomaly flags, docs/anomalies.md) are written after the request that caused them: not part of its outcome.
  const names = list.streams.map((s) => s.name).filter((name) => !name.startsWith("_strata/")).sort();
  const streams = await Promise.all(names.map((name) => json(`${baseUrl}/v1/streams/${encodeURIComponent(name)}`)));
  const groups = await Promise.all(FUZZ_GROUPS.map((g) => json(`${baseUrl}/v1/groups/${encodeURIComponent(g)}/offsets`)));
  return JSON.stringify({ streams, groups });
}
