// Request metrics follow `observability.requestMetrics` (`strata serve --no-request-metrics`):
// on by default, and with it off no request series exist at all (nothing is counted). A method
// outside the known set is counted as OTHER, so a client cannot create series by inventing methods.
import { expect, test } from "bun:test";
import { liveGateway, postJson, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { methodLabel } from "../../gateway/observability/request-metrics.ts";
import { samplesOf, valueOf } from "./metrics-exposition.ts";

async function publishAndScrape(live: LiveGateway): Promise<string> {
  const { url } = live;
  expect((await postJson(`${url}/v1/streams`, { name: "switch", partitions: 1 })).status).toBe(201);
  expect((await postJson(`${url}/v1/streams/switch/records`, { records: [{ fields: { a: 1 } }] })).status).toBe(200);
  return (await fetch(`${url}/metrics`)).text();
}

test("a method outside the known set is labelled OTHER (Deno and Node pass any token through; Bun's Request turns it into GET)", () => {
  expect(["GET", "POST", "DELETE", "BREW", "get"].map(methodLabel)).toEqual(["GET", "POST", "DELETE", "OTHER", "OTHER"]);
});

test("on by default: requests counted by route pattern", async () => {
  const live = await liveGateway();
  try {
    const text = await publishAndScrape(live);
    expect(valueOf(text, "strata_http_requests_total", { method: "POST", route: "/v1/streams/:name/records", status: "200" })).toBe(1);
    expect(valueOf(text, "strata_http_request_duration_seconds_count", { method: "POST", route: "/v1/streams" })).toBe(1);
    // The scrape itself is the one request in flight.
    expect(valueOf(text, "strata_http_requests_in_flight")).toBe(1);
  } finally {
    await live.close();
  }
});

test("off: no request series", async () => {
  const live = await liveGateway({ observability: { requestMetrics: false } });
  try {
    const text = await publishAndScrape(live);
    for (const name of ["strata_http_requests_total", "strata_http_request_duration_seconds_count", "strata_http_requests_in_flight", "strata_quic_requests_total"]) {
      expect(samplesOf(text, name)).toHaveLength(0);
    }
    // The rest of the metrics are still there.
    expect(valueOf(text, "strata_partition_end_offset", { stream: "switch", partition: "0" })).toBe(1);
  } finally {
    await live.close();
  }
});
