// Clients given several gateway URLs (docs/clients.md#several-gateways), against real gateway
// processes: a dead first URL costs nothing and the gateway that answers stays in use (sticky);
// a gateway SIGKILLed under an idempotent producer's publishes is left for the next URL (the same
// data directory restarted there), and every record is stored exactly once.
import { afterEach, describe, expect, test } from "bun:test";
import { failoverFetch, isConnectionRefused } from "../../core/client/failover-fetch.ts";
import type { RecordInput } from "../../core/log/record.ts";
import { createClient, gatewayConnection, publishRecords, streamParam } from "../../gateway/client.ts";
import { connectionOver } from "../../gateway/client/gateway-urls.ts";
import { freePort } from "../edge/edge-fixtures.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

const running: GatewayProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const gateway of running.splice(0)) await gateway.kill();
  for (const dir of dirs.splice(0)) removeDir(dir);
});

async function gatewayOn(dataDir: string, port?: number): Promise<GatewayProcess> {
  const gateway = await startGateway({ dataDir, ...(port === undefined ? {} : { args: ["--port", String(port)] }) });
  running.push(gateway);
  return gateway;
}

function dataDir(): string {
  const dir = tempDir("strata-clients-");
  dirs.push(dir);
  return dir;
}

const record = (n: number): RecordInput => ({ key: null, headers: {}, fields: { n } });

/** Every `n` stored in partition 0 of `stream`, in offset order, read straight from `url` (no failover). */
async function storedNumbers(url: string, stream: string): Promise<number[]> {
  const numbers: number[] = [];
  let offset = 0;
  for (;;) {
    const response = await fetch(`${url}/v1/streams/${streamParam(stream)}/partitions/0/records?offset=${offset}&max_records=1000`);
    expect(response.status).toBe(200);
    const page = (await response.json()) as { records: { fields: { n: number } }[]; next_offset: number; end_offset: number };
    numbers.push(...page.records.map((r) => r.fields.n));
    offset = page.next_offset;
    if (offset >= page.end_offset) return numbers;
  }
}

describe("a list of gateway URLs", () => {
  test("a dead first URL: creates, publishes and reads through the second, and stays there once the first comes up", async () => {
    const deadPort = await freePort();
    const live = await gatewayOn(dataDir());
    const urls = [`http://127.0.0.1:${deadPort}`, live.url];
    const client = createClient(urls);
    const created = await client.v1.streams.$post({ json: { name: "list/dead-first", partitions: 1 } });
    expect(created.status).toBe(201);
    // Without a producer a publish is sent again only after a refused connection: exactly what a dead URL gives.
    const connection = gatewayConnection(urls.join(","));
    expect(await publishRecords(connection, "list/dead-first", [record(1), record(2)])).toEqual([
      { partition: 0, offset: 0 },
      { partition: 0, offset: 1 },
    ]);
    const read = await client.v1.streams[":name"].partitions[":partition"].records.$get({ param: { name: streamParam("list/dead-first"), partition: "0" }, query: { offset: "0" } });
    expect(read.status).toBe(200);
    expect((await read.json()).records.map((r) => r.fields?.n)).toEqual([1, 2]);

    // Sticky: a gateway now listening on the first URL gets nothing of this connection's traffic.
    const late = await gatewayOn(dataDir(), deadPort);
    expect(late.url).toBe(urls[0]!);
    await publishRecords(connection, "list/dead-first", [record(3)]);
    const listed = await (await client.v1.streams.$get()).json();
    expect(listed.streams.map((s: { name: string }) => s.name)).toContain("list/dead-first");
    expect(await storedNumbers(live.url, "list/dead-first")).toEqual([1, 2, 3]);
    const onLate = (await (await fetch(`${late.url}/v1/streams`)).json()) as { streams: unknown[] };
    expect(onLate.streams).toEqual([]);
  }, 60_000);

  test("every URL refusing: the request fails after the configured rounds, with the runtime's refusal", async () => {
    const urls = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`];
    const fetcher = failoverFetch(urls, { limits: { refusedRounds: 2, backoffInitialMs: 10, backoffMaxMs: 20 } });
    const failure = await fetcher(`${urls[0]}/v1/streams`).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isConnectionRefused(failure)).toBe(true);
  });

  test("a gateway SIGKILLed under an idempotent producer: the client moves to the next URL and nothing is stored twice or lost", async () => {
    const dir = dataDir();
    const first = await gatewayOn(dir);
    const secondPort = await freePort();
    const urls = [first.url, `http://127.0.0.1:${secondPort}`];
    const created = await fetch(`${first.url}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "list/killed", partitions: 1 }) });
    expect(created.status).toBe(201);
    // Generous bounds: the next gateway takes a few seconds to start on the same data directory.
    const fetcher = failoverFetch(urls, { limits: { maxTotalMs: 60_000, maxAttempts: 1_000, refusedRounds: 1_000 } });
    const connection = connectionOver(fetcher);
    const producer = { id: 4242, epoch: 0 };
    const total = 400;
    const acked: { n: number; offset: number }[] = [];
    let killed: Promise<GatewayProcess> | null = null;
    // One sequence number per request (the gateway's producer sequence counts requests).
    for (let seq = 0; seq * 2 < total; seq++) {
      const n = seq * 2;
      const positions = await publishRecords(connection, "list/killed", [record(n), record(n + 1)], { producer: { ...producer, seq } });
      acked.push({ n, offset: positions[0]!.offset }, { n: n + 1, offset: positions[1]!.offset });
      if (seq === 50) {
        // Mid-stream: kill without warning while the next publishes are already on their way.
        killed = (async () => {
          await first.kill();
          return gatewayOn(dir, secondPort);
        })();
      }
    }
    expect(killed).not.toBeNull();
    const second = await killed!;
    expect(fetcher.endpoints.current()).toBe(second.url);
    expect(acked.map((a) => a.offset)).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(await storedNumbers(second.url, "list/killed")).toEqual(Array.from({ length: total }, (_, i) => i));
  }, 90_000);
});
