// Anomaly flags in cluster mode (docs/anomalies.md#cluster-mode), on a real cluster of two
// `strata serve --cluster --auth` processes (sqld, radosgw): each gateway estimates the batches of
// the partitions it leads, and the flags of both reach the one `_strata/anomalies` stream, the
// non-leader's forwarded under the gateways' own credential; a caller's publish forwarded with
// `strata-forwarded: 1` is still refused.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { z } from "zod";
import { clusterStatusSchema } from "../../gateway/cluster/cluster-wire.ts";
import { startTestCluster, waitUntil, type TestCluster } from "../helpers/cluster.ts";

setDefaultTimeout(180_000);

const ADMIN = "anomalies-cluster-admin-secret-0123456789";
const STREAM = "edge/sizes";
const PARTITIONS = 8;
const MIN_SAMPLES = 5;
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster({ gateways: 2, config: { auth: { enabled: true, adminToken: ADMIN }, anomalies: { minSamples: MIN_SAMPLES } } });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
});

function call(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(20_000),
  });
}

/** Each partition of `stream` with its live holder, once every one has one. */
async function leaders(stream: string, partitions: number): Promise<Map<number, string>> {
  return waitUntil(`a leader for each partition of ${stream}`, async () => {
    const response = await call(cluster.gateways[0]!.url, "GET", "/v1/cluster");
    if (!response.ok) return undefined;
    const status = clusterStatusSchema.parse(await response.json());
    const live = new Set(status.gateways.filter((g) => g.live).map((g) => g.node));
    const held = status.leases.filter((l) => l.stream === stream && l.holder !== null && l.expires_in_ms > 0 && live.has(l.holder));
    return held.length === partitions ? new Map(held.map((l) => [l.partition, l.holder!])) : undefined;
  });
}

const entrySchema = z.object({ kind: z.string(), stream: z.string().optional(), partition: z.number().optional(), value: z.number() });

test("the flags of both gateways reach _strata/anomalies; a caller's forwarded publish to it is refused", async () => {
  const [g0, g1] = cluster.gateways;
  expect((await call(g0!.url, "POST", "/v1/streams", { name: STREAM, partitions: PARTITIONS })).status).toBe(201);
  // One partition led by each gateway (rendezvous hashing spreads eight over two).
  const led = await waitUntil("a partition led by each gateway", async () => {
    const byPartition = await leaders(STREAM, PARTITIONS);
    const pick = (node: string) => [...byPartition].find(([, holder]) => holder === node)?.[0];
    const a = pick(g0!.node);
    const b = pick(g1!.node);
    return a !== undefined && b !== undefined ? [a, b] : undefined;
  });
  // Steady ~1 KiB records to both partitions (through g0: the other's part is forwarded), then one ten times larger each.
  const publish = async (partition: number, bytes: number) => {
    const response = await call(g0!.url, "POST", `/v1/streams/${encodeURIComponent(STREAM)}/records`, { records: [{ partition, fields: { blob: "x".repeat(bytes) } }] });
    expect(response.status).toBe(200);
  };
  for (let i = 0; i < MIN_SAMPLES + 3; i++) for (const p of led) await publish(p, 1000 + (i % 3) * 8);
  for (const p of led) await publish(p, 10_240);
  const flagged = await waitUntil("a record_size flag from each gateway in _strata/anomalies", async () => {
    const response = await call(g1!.url, "GET", "/v1/anomalies?after=0&limit=100");
    if (!response.ok) return undefined;
    const page = z.object({ anomalies: z.array(entrySchema) }).parse(await response.json());
    const partitions = new Set(page.anomalies.filter((f) => f.kind === "record_size" && f.stream === STREAM).map((f) => f.partition));
    return led.every((p) => partitions.has(p)) ? page.anomalies : undefined;
  }, 60_000);
  expect(flagged.filter((f) => f.kind === "record_size").every((f) => f.value > 9_000)).toBe(true);
  // The stream's leader refuses a caller's publish even marked as forwarded: only the gateways' subject may.
  const [holder] = [...(await leaders("_strata/anomalies", 1)).values()];
  const leaderUrl = cluster.gateway(holder!).url;
  const forged = await call(leaderUrl, "POST", "/v1/streams/_strata%2Fanomalies/records", { records: [{ fields: { kind: "forged" } }] }, { "strata-forwarded": "1" });
  expect(forged.status).toBe(403);
  expect(z.object({ error: z.object({ code: z.string() }) }).parse(await forged.json()).error.code).toBe("FORBIDDEN");
});
