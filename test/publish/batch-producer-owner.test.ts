// Producer ids of client-built batches belong to a subject as those of every publish: a batch
// with another subject's id is FORBIDDEN at any epoch and writes nothing, and the owner's batches
// go on (a real gateway with its storage and metadata database in this process).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { buildClientBatch } from "../../core/log/client-batch.ts";
import { openGateway, type Gateway } from "../../gateway/gateway.ts";
import { failure } from "../helpers/failure.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";

const A = { subject: "edge-a" };
const B = { subject: "edge-b" };
const X = 2 ** 52 + 99;

let dataDir: string;
let gateway: Gateway;

beforeAll(async () => {
  dataDir = tempDir("strata-batch-owner-");
  gateway = await openGateway({ dataDir, artefacts: { gcIntervalMs: 0 } });
  await gateway.services.streams.create({ name: "owned/batches", partitions: 2 });
});

afterAll(async () => {
  await gateway?.close();
  removeDir(dataDir);
});

const batch = (value: string, epoch: number, seq: number): Uint8Array => buildClientBatch([{ key: null, headers: {}, fields: { value } }], { id: X, epoch, baseSequence: seq });
const ends = (): number[] => gateway.services.streams.get("owned/batches").partitions.map((p) => p.end_offset);

test("another subject's batches with a registered id are FORBIDDEN; the owner's retry and next batch go on", async () => {
  const log = gateway.services.log;
  const first = await log.publishBatch("owned/batches", batch("a0", 3, 0), {}, A);
  const before = ends();
  for (const [epoch, seq] of [[3, 1], [3, 0], [4, 0], [0, 0], [3, 9]] as const) {
    const e = await failure(log.publishBatch("owned/batches", batch("b", epoch, seq), {}, B));
    expect(e.code).toBe("FORBIDDEN");
  }
  expect(ends()).toEqual(before);
  expect(await log.publishBatch("owned/batches", batch("a0", 3, 0), {}, A)).toEqual(first);
  expect(ends()).toEqual(before);
  const next = await log.publishBatch("owned/batches", batch("a1", 3, 1), {}, A);
  expect(next).toHaveLength(1);
  expect(ends().reduce((a, b) => a + b, 0)).toBe(before.reduce((a, b) => a + b, 0) + 1);
});
