// The background compactor: with a short compaction.intervalMs it compacts a compacted stream on
// its own (waited for as a condition, never a fixed sleep) and never touches a delete stream.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { getJson, liveGateway, postJson, type LiveGateway } from "../helpers/in-process-gateway.ts";

let live: LiveGateway;
let v1: string;

beforeAll(async () => {
  live = await liveGateway({ compaction: { intervalMs: 50, minRemovableRatio: 0 } });
  v1 = `${live.url}/v1`;
});
afterAll(() => live.close());

async function offsets(stream: string): Promise<number[]> {
  const r = await getJson(`${v1}/streams/${stream}/partitions/0/records?offset=0`);
  expect(r.status).toBe(200);
  return r.body.records.map((rec: { offset: number }) => rec.offset);
}

test("a compacted stream is compacted in the background; a delete stream is left whole", async () => {
  for (const [name, cleanup] of [["bg-compact", "compact"], ["bg-delete", "delete"]] as const) {
    expect((await postJson(`${v1}/streams`, { name, cleanup })).status).toBe(201);
    for (let round = 0; round < 5; round++) {
      const records = [{ key: "a", fields: { round } }, { key: "b", fields: { round } }];
      expect((await postJson(`${v1}/streams/${name}/records?acks=durable`, { records })).status).toBe(200);
    }
  }
  const deadline = Date.now() + 20_000;
  while ((await offsets("bg-compact")).length > 6) expect(Date.now()).toBeLessThan(deadline);
  // Each segment keeps its last record (b); the newest a survives too.
  expect(await offsets("bg-compact")).toEqual([1, 3, 5, 7, 8, 9]);
  // The delete stream was passed over by the same passes.
  const metrics = await (await fetch(`${live.url}/metrics`)).text();
  expect(metrics).toContain('strata_compaction_passes_total{stream="bg-compact",outcome="ok"}');
  expect(metrics).not.toMatch(/strata_compaction_\w+\{[^}]*stream="bg-delete"/);
  expect(await offsets("bg-delete")).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});
