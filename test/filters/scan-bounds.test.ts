// A filtered read stops at maxFilterScanBytes of stored records examined (at least one batch),
// answering what it found with next_offset after the last record examined; reading on from there
// covers the partition exactly once.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";

const KiB = 1024;
const SCAN_BYTES = 64 * KiB;
const BATCHES = 40;
const PER_BATCH = 10;
let live: LiveGateway;

beforeAll(async () => {
  live = await liveGateway({ filters: { maxFilterScanBytes: SCAN_BYTES } });
  const { streams, log } = live.gateway.services;
  await streams.create({ name: "scan", partitions: 1 });
  for (let b = 0; b < BATCHES; b++) {
    const records = Array.from({ length: PER_BATCH }, (_, j) => ({ key: null, partition: 0, headers: {}, fields: { i: b * PER_BATCH + j, pad: "x".repeat(KiB) } }));
    await log.publish("scan", { records, producer: null });
  }
});

afterAll(async () => {
  await live?.close();
});

test("a selective filter examines about maxFilterScanBytes per read, then the client reads on", async () => {
  const { log } = live.gateway.services;
  let offset = 0;
  const steps: number[] = [];
  const matched: number[] = [];
  while (offset < BATCHES * PER_BATCH) {
    const page = await log.read({ stream: "scan", partition: 0, offset, filter: "fields.i % 97 == 0" });
    const examined = page.nextOffset - offset;
    expect(examined).toBeGreaterThan(0);
    // Whole batches of about 10 KiB each are examined until 64 KiB have been: at most 7 batches.
    expect(examined).toBeLessThanOrEqual(7 * PER_BATCH);
    steps.push(examined);
    matched.push(...page.records.map((r) => r.fields?.i as number));
    offset = page.nextOffset;
  }
  expect(steps.length).toBeGreaterThan(5);
  expect(matched).toEqual([0, 97, 194, 291, 388]);
});
