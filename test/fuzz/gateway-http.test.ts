// Generated requests against a real gateway process (`strata serve`): no input gets a 5xx, and a
// request the gateway refuses changes nothing (catalog, partition offsets, group offsets).
import { afterAll, beforeAll, expect, test } from "bun:test";
import fc from "fast-check";
import { removeDir, startGateway, type GatewayProcess } from "../helpers/gateway.ts";
import { gatewayState } from "./gateway-state.ts";
import { FUZZ_PARTITIONS, FUZZ_STREAM, fuzzRequest, type FuzzRequest } from "./http-requests.ts";

const REQUESTS = 500;
const seed = Number(process.env.STRATA_FUZZ_SEED ?? 20261130);

let gw: GatewayProcess;

beforeAll(async () => {
  gw = await startGateway();
  const created = await fetch(`${gw.url}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: FUZZ_STREAM, partitions: FUZZ_PARTITIONS }) });
  expect(created.status).toBe(201);
  const published = await fetch(`${gw.url}/v1/streams/${encodeURIComponent(FUZZ_STREAM)}/records`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ records: [{ fields: { n: 1 } }, { fields: { n: 2 }, partition: 1 }] }) });
  expect(published.status).toBe(200);
});

afterAll(async () => {
  await gw?.stop();
  if (gw) removeDir(gw.dataDir);
});

function describeRequest(r: FuzzRequest): string {
  const body = r.body === undefined ? "" : ` body(hex)=${Buffer.from(r.body).toString("hex").slice(0, 400)}`;
  return `${r.method} ${r.path} content-type=${r.contentType ?? "-"} accept=${r.accept ?? "-"}${body}`;
}

async function send(r: FuzzRequest): Promise<Response> {
  const headers: Record<string, string> = {};
  if (r.contentType !== undefined) headers["content-type"] = r.contentType;
  if (r.accept !== undefined) headers.accept = r.accept;
  return fetch(`${gw.url}${r.path}`, { method: r.method, headers, ...(r.body === undefined || r.method === "GET" ? {} : { body: new Uint8Array(r.body) }) });
}

test(`${REQUESTS} generated HTTP requests: never a 5xx, and a refused request changes no state`, async () => {
  let before = await gatewayState(gw.url);
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(fuzzRequest, async (request) => {
      const response = await send(request);
      const text = await response.text();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      if (response.status >= 500) throw new Error(`${describeRequest(request)} answered ${response.status}: ${text.slice(0, 300)}`);
      const after = await gatewayState(gw.url);
      if (response.status >= 400 && after !== before) throw new Error(`${describeRequest(request)} was refused (${response.status}) but changed the state:\nbefore ${before}\nafter  ${after}`);
      before = after;
    }),
    { numRuns: REQUESTS, seed, endOnFailure: true },
  );
  // The mix reaches both outcomes: some requests are served, some refused.
  const served = [...statuses].filter(([s]) => s < 300).reduce((n, [, c]) => n + c, 0);
  expect(served).toBeGreaterThan(0);
  expect(served).toBeLessThan(REQUESTS);
}, 120_000);
