// `strata publish` sends client-built batches when a request's records go to one partition, and
// MessagePack when they may span several, against a real gateway behind a proxy that notes each
// publish's Content-Type; the records read back equal either way.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { CLIENT_BATCH_MEDIA_TYPE } from "../../core/log/client-batch.ts";
import { cli } from "../edge/edge-fixtures.ts";
import { getJson, liveGateway, postJson, type LiveGateway } from "../helpers/in-process-gateway.ts";

let live: LiveGateway;
let proxy: ReturnType<typeof Bun.serve>;
const seen: string[] = [];

beforeAll(async () => {
  live = await liveGateway();
  expect((await postJson(`${live.url}/v1/streams`, { name: "cli-batch", partitions: 3 })).status).toBe(201);
  proxy = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const url = new URL(request.url);
      if (request.method === "POST" && url.pathname.endsWith("/records")) seen.push(request.headers.get("content-type") ?? "");
      return fetch(`${live.url}${url.pathname}${url.search}`, { method: request.method, headers: request.headers, body: request.method === "GET" ? undefined : await request.arrayBuffer() });
    },
  });
});
afterAll(async () => {
  proxy.stop(true);
  await live.close();
});

test("unkeyed and one-key runs go as batches, many keys as MessagePack; all read back", async () => {
  const gateway = `http://127.0.0.1:${proxy.port}`;
  const unkeyed = await cli(["publish", "cli-batch", "--gateway", gateway, "--batch", "3"], [1, 2, 3, 4].map((n) => JSON.stringify({ n })).join("\n")).done;
  expect(unkeyed.code).toBe(0);
  expect(seen).toEqual([CLIENT_BATCH_MEDIA_TYPE, CLIENT_BATCH_MEDIA_TYPE]);
  seen.length = 0;
  const keyed = await cli(["publish", "cli-batch", "--gateway", gateway, "--records"], [5, 6, 7, 8, 9, 10].map((n) => JSON.stringify({ key: `k${n}`, fields: { n } })).join("\n")).done;
  expect(keyed.code).toBe(0);
  expect(seen).toEqual(["application/msgpack"]);
  const all: number[] = [];
  for (const p of [0, 1, 2]) {
    const page = await getJson(`${live.url}/v1/streams/cli-batch/partitions/${p}/records?offset=0`);
    all.push(...page.body.records.map((r: { fields: { n: number } }) => r.fields.n));
  }
  expect(all.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});
