// QUIC control requests of a real `strata serve --quic-port 0 --auth --log-format json` process:
// each one is counted by kind and answer code and timed, and leaves one access record on stderr
// (transport quic, the kind as method and route, the error code of an error frame, frame bytes
// in and out, the token's subject), as an HTTP request does. A fetch that waits at the end of a
// partition is a QUIC long-poll while it waits.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { QuicClient } from "../../edge/transports/quic-client.ts";
import { removeDir, startGateway, tempDir, type GatewayProcess } from "../helpers/gateway.ts";
import { waitFor } from "../edge/edge-fixtures.ts";
import { accessRecords, collectLines, eventually, type ProcessLines } from "./logs-stderr.ts";
import { valueOf } from "./metrics-exposition.ts";

const ADMIN_TOKEN = "metrics-quic-admin-token-0123456789abcdef";
const QUIC_LINE = /quic:\/\/\S+:(\d+) .*certificate (\S+?)(?:,|;)/;
const STREAM = "quic/metrics";

let dataDir: string;
let gateway: GatewayProcess;
let lines: ProcessLines;
let quic: QuicClient;

beforeAll(async () => {
  dataDir = tempDir("strata-metrics-quic-");
  gateway = await startGateway({ dataDir, args: ["--quic-port", "0", "--auth", "--log-format", "json"], env: { STRATA_ADMIN_TOKEN: ADMIN_TOKEN }, timeoutMs: 60_000 });
  lines = collectLines(gateway.child);
  let match: RegExpExecArray | null = null;
  await waitFor(() => (match = QUIC_LINE.exec(gateway.output())) !== null, 30_000, "the QUIC listening line");
  const [, port, caFile] = match!;
  quic = await QuicClient.connect({ host: "127.0.0.1", port: Number(port), ca: await Bun.file(caFile!).text(), token: ADMIN_TOKEN });
}, 90_000);

afterAll(async () => {
  await quic?.close();
  await gateway?.stop();
  removeDir(dataDir);
});

async function scrape(): Promise<string> {
  const response = await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(response.status).toBe(200);
  return response.text();
}

test("requests are counted by kind and code, timed, and access-logged", async () => {
  await quic.createStream(STREAM, { partitions: 1 });
  await quic.publish(STREAM, { records: [{ fields: { n: 1 } }, { fields: { n: 2 } }] });
  expect((await quic.fetch({ stream: STREAM, partition: 0, offset: 0 })).records).toHaveLength(2);
  await expect(quic.fetch({ stream: STREAM, partition: 0, offset: 99 })).rejects.toThrow();

  const text = await scrape();
  expect(valueOf(text, "strata_quic_requests_total", { kind: "publish", code: "ok" })).toBe(1);
  expect(valueOf(text, "strata_quic_requests_total", { kind: "fetch", code: "ok" })).toBe(1);
  expect(valueOf(text, "strata_quic_requests_total", { kind: "fetch", code: "OFFSET_OUT_OF_RANGE" })).toBe(1);
  expect(valueOf(text, "strata_quic_request_duration_seconds_count", { kind: "fetch" })).toBe(2);
  expect(valueOf(text, "strata_quic_requests_in_flight")).toBe(0);
  expect(valueOf(text, "strata_end_to_end_latency_seconds_count", { stream: STREAM })).toBe(2);

  const quicRecords = () => accessRecords(lines).filter((r) => r.properties.transport === "quic");
  const publish = await eventually(() => quicRecords().find((r) => r.properties.route === "publish"), "the publish's access record");
  expect(publish.properties).toMatchObject({ method: "publish", status: 200, subject: "admin" });
  expect(publish.properties.bytes_in).toBeGreaterThan(0);
  expect(publish.properties.bytes_out).toBeGreaterThan(0);
  expect(publish.properties.code).toBeUndefined();
  const refused = await eventually(() => quicRecords().find((r) => r.properties.route === "fetch" && r.properties.status !== 200), "the refused fetch's access record");
  expect(refused.properties).toMatchObject({ method: "fetch", status: 416, code: "OFFSET_OUT_OF_RANGE" });
}, 60_000);

test("a waiting fetch is a QUIC long-poll until a publish answers it", async () => {
  const longPolls = async () => valueOf(await scrape(), "strata_long_polls_in_flight", { transport: "quic" });
  expect(await longPolls()).toBe(0);
  const waiting = quic.fetch({ stream: STREAM, partition: 0, offset: 2, wait_ms: 30_000 });
  await waitFor(async () => (await longPolls()) === 1, 20_000, "the QUIC long-poll to be counted");
  await quic.publish(STREAM, { records: [{ fields: { n: 3 } }] });
  expect((await waiting).records.map((r) => r.offset)).toEqual([2]);
  expect(await longPolls()).toBe(0);
}, 60_000);
