// What a list of gateway URLs costs a client (docs/clients.md): the latency of one idempotent
// publish (1 record, acks=local) through the client library with a plain connection (the peer:
// fetch straight to the gateway), through gatewayConnection over the same one URL, and over a
// list whose first URL is dead (a closed port; the client stays on the second once it answered);
// and the first request of a fresh client whose first URL is dead. Interleaved rounds, medians.
//   bun bench/client-failover.ts [--rounds 7] [--requests 300]
import { cpus, loadavg } from "node:os";
import { freePort } from "../cli/dev/free-ports.ts";
import type { RecordInput } from "../core/log/record.ts";
import { publishRecords } from "../gateway/client.ts";
import type { GatewayConnection } from "../gateway/client/gateway-call.ts";
import { gatewayConnection } from "../gateway/client/gateway-urls.ts";
import { intArg } from "./args.ts";
import { median, quantile } from "./log/open-loop.ts";
import { startGateway } from "./log/processes.ts";
import { reportRatio } from "./ratio.ts";

const ROUNDS = intArg("rounds", 7);
const REQUESTS = intArg("requests", 300);

const record: RecordInput = { key: null, headers: {}, fields: { n: 1 } };

/** Latencies (ms) of `count` sequential publishes of one producer. */
async function publishLatencies(connection: GatewayConnection, stream: string, producer: { id: number; seq: number }, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await publishRecords(connection, stream, [record], { producer: { id: producer.id, epoch: 0, seq: producer.seq++ } });
    out.push(performance.now() - started);
  }
  return out;
}

const loadBefore = loadavg();
const gateway = await startGateway();
try {
  const url = gateway.url;
  const dead = `http://127.0.0.1:${await freePort()}`; // closed: nothing listens there
  const created = await fetch(`${url}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "bench/failover", partitions: 1 }) });
  if (created.status !== 201) throw new Error(`create: HTTP ${created.status}`);
  const variants: { name: string; connection: GatewayConnection; producer: { id: number; seq: number } }[] = [
    { name: "plain connection (fetch to the gateway)", connection: { gateway: url }, producer: { id: 1, seq: 0 } },
    { name: "gatewayConnection([url])", connection: gatewayConnection([url]), producer: { id: 2, seq: 0 } },
    { name: "gatewayConnection([dead, url]), sticky", connection: gatewayConnection([dead, url]), producer: { id: 3, seq: 0 } },
  ];
  const samples = variants.map(() => [] as number[]);
  const firstRequest: { plain: number[]; deadFirst: number[] } = { plain: [], deadFirst: [] };
  let nextId = 100;
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, v] of variants.entries()) samples[i]!.push(...(await publishLatencies(v.connection, "bench/failover", v.producer, REQUESTS)));
    // A fresh client's first request: straight, and with a dead first URL before the live one.
    for (const [key, connection] of [["plain", gatewayConnection([url])], ["deadFirst", gatewayConnection([dead, url])]] as const) {
      const [ms] = await publishLatencies(connection, "bench/failover", { id: nextId++, seq: 0 }, 1);
      firstRequest[key].push(ms!);
    }
  }
  const loadAfter = loadavg();
  const g = globalThis as { Bun?: { version: string } };
  console.log(`## Client failover overhead\n\nMachine: ${cpus().length} cores, ${cpus()[0]?.model ?? "unknown CPU"}; ${g.Bun ? `Bun ${g.Bun.version}` : process.version}; ${ROUNDS} interleaved rounds of ${REQUESTS} publishes per variant; load ${loadBefore.map((l) => l.toFixed(1)).join(" ")} → ${loadAfter.map((l) => l.toFixed(1)).join(" ")}.\n`);
  console.log("| variant | p50 ms | p99 ms |\n| --- | --- | --- |");
  for (const [i, v] of variants.entries()) console.log(`| ${v.name} | ${median(samples[i]!).toFixed(3)} | ${quantile(samples[i]!, 0.99).toFixed(3)} |`);
  console.log(`| first request of a fresh client, one URL | ${median(firstRequest.plain).toFixed(3)} | – |`);
  console.log(`| first request of a fresh client, dead URL first | ${median(firstRequest.deadFirst).toFixed(3)} | – |`);
  const plain = median(samples[0]!);
  // A latency: the ratio is peer / Strata (higher is better), the goal at most 10 % slower.
  for (const i of [1, 2]) {
    const wrapped = median(samples[i]!);
    reportRatio({ metric: `publish p50, ${variants[i]!.name}`, peer: "plain fetch to the gateway", strata: `${wrapped.toFixed(3)} ms`, peerValue: `${plain.toFixed(3)} ms`, ratio: plain / wrapped, goal: ">= 0.9x", met: plain / wrapped >= 0.9 });
  }
} finally {
  await gateway.stop();
}
