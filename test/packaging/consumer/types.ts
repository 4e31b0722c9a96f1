// Type-checked (not run) inside the consumer project by test/packaging/libraries.test.ts: the
// exports map's `types` conditions resolve under moduleResolution nodenext, and the declarations
// carry real types (each @ts-expect-error fails the check if a type degrades to `any`).
import { blake3Hex, StrataError, type ErrorCode } from "@strata-gw/strata/core";
import { createClient, streamParam, type StrataClient } from "@strata-gw/strata/client";
import { openEdge, type Edge, type EdgeStatus } from "@strata-gw/strata/edge";
import { publish, type PublishedPosition } from "@strata-gw/strata/edge/browser";

export const hex: string = blake3Hex(new Uint8Array(1));
// @ts-expect-error blake3Hex hashes bytes, not numbers
blake3Hex(42);
export const code: ErrorCode = new StrataError("BAD_REQUEST", "x").code;

export async function useClient(): Promise<number> {
  const strata: StrataClient = createClient("http://127.0.0.1:7070");
  const response = await strata.v1.streams[":name"].records.$post({
    param: { name: streamParam("events") },
    query: {},
    json: { records: [{ key: "k", fields: { n: 1 } }] },
  });
  // @ts-expect-error a publish body has `records`
  await strata.v1.streams[":name"].records.$post({ param: { name: "events" }, query: {}, json: { rows: [] } });
  return response.status;
}

export async function useEdge(): Promise<EdgeStatus> {
  const edge: Edge = await openEdge({ dataDir: "edge-data", maxOutboxBytes: 1 << 20 });
  // @ts-expect-error maxOutboxBytes is required
  await openEdge({ dataDir: "edge-data" });
  return edge.status();
}

export async function useBrowser(): Promise<PublishedPosition[]> {
  // @ts-expect-error records carry `fields`
  await publish("http://127.0.0.1:7070", "events", [{ key: "k" }]);
  return publish("http://127.0.0.1:7070", "events", [{ key: "k", fields: { n: 1 } }]);
}
