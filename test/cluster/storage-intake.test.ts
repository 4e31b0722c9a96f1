// The intake of cluster mode under faults, with real components (sqld, radosgw): the object store
// is wrapped by a gate that can hold or fail intake PUTs (fault injection over the real store,
// like test/log/faulty-wal-io.ts for the WAL). A record synced to the WAL but not committed to the
// intake is neither acknowledged nor visible; PUT failures are retried; the bytes waiting are
// bounded; an append that waits too long fails cleanly and its retry is a duplicate; the
// metadata server restarted under load loses nothing acknowledged.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { StrataError } from "../../core/errors.ts";
import type { ObjectInfo, ObjectStore, PutOptions } from "../../gateway/objects/object-store.ts";
import type { LogStore } from "../../gateway/log/log-store.ts";
import { meta, records } from "../log/log-fixture.ts";
import { startClusterFixture, type ClusterFixture } from "./storage-cluster-fixture.ts";

let fx: ClusterFixture;

beforeAll(async () => {
  fx = await startClusterFixture();
}, 600_000);

afterAll(async () => {
  await fx?.close();
}, 60_000);

/** Holds or fails PUTs of intake objects; everything else goes straight to the real store. */
class IntakeGate implements ObjectStore {
  readonly description: string;
  held = false;
  /** When > 0, only this many more intake PUTs are held (then they pass). */
  holdOnly = 0;
  failuresLeft = 0;
  readonly waiting: Array<() => void> = [];
  #waiters: Array<() => void> = [];

  constructor(private readonly inner: ObjectStore) {
    this.description = `gate over ${inner.description}`;
  }

  async put(key: string, body: Uint8Array, opts?: PutOptions): Promise<ObjectInfo> {
    if (key.startsWith("intake/")) {
      if (this.failuresLeft > 0) {
        this.failuresLeft--;
        throw new StrataError("STORAGE_ERROR", "injected PUT failure");
      }
      const hold = this.holdOnly > 0 ? (this.holdOnly--, true) : this.held;
      if (hold) {
        await new Promise<void>((resolve) => {
          this.waiting.push(resolve);
          for (const w of this.#waiters.splice(0)) w();
        });
      }
    }
    return this.inner.put(key, body, opts);
  }

  /** Resolves once at least `n` PUTs are held. */
  async heldPuts(n: number): Promise<void> {
    while (this.waiting.length < n) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  release(): void {
    this.held = false;
    this.holdOnly = 0;
    for (const go of this.waiting.splice(0)) go();
  }

  putMultipart(...args: Parameters<ObjectStore["putMultipart"]>) {
    return this.inner.putMultipart(...args);
  }
  get(...args: Parameters<ObjectStore["get"]>) {
    return this.inner.get(...args);
  }
  head(key: string) {
    return this.inner.head(key);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
  deleteMany(keys: string[]) {
    return this.inner.deleteMany(keys);
  }
  async close(): Promise<void> {}
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "resolved";
  } catch (e) {
    return e instanceof StrataError ? e.code : String(e);
  }
}

async function offsets(store: LogStore, stream: string): Promise<number[]> {
  return (await store.partition(stream, 0).read(0, { maxRecords: 10_000, maxBytes: 16 << 20 })).map((r) => r.offset);
}

test("a synced record is neither acknowledged nor visible until its intake object is PUT and committed", async () => {
  const stream = "intake/visibility";
  await fx.createStream(stream);
  const gate = new IntakeGate(fx.objects);
  const g = await fx.gateway("gw-vis", { objects: gate });
  await g.store.lead(stream, 0, (await fx.grant(stream, 0, "gw-vis"))!, {});
  const log = g.store.partition(stream, 0);
  await log.append(records(0, 1), meta());

  gate.held = true;
  let acked = false;
  const pending = log.append(records(1, 2), meta()).then((r) => {
    acked = true;
    return r;
  });
  const poll = log.waitForData(1, 60_000);
  await gate.heldPuts(1); // synced and handed to the intake: its PUT is in flight
  expect(acked).toBe(false);
  expect(log.endOffset).toBe(1);
  expect(await offsets(g.store, stream)).toEqual([0]);
  expect(await codeOf(log.read(2, { maxRecords: 10, maxBytes: 1 << 20 }))).toBe("OFFSET_OUT_OF_RANGE");

  gate.release();
  expect(await pending).toEqual({ baseOffset: 1, duplicate: false });
  await poll; // the long poll wakes on the intake commit
  expect(log.endOffset).toBe(3);
  expect(await offsets(g.store, stream)).toEqual([0, 1, 2]);
  await g.store.resign(stream, 0, "handoff");
}, 60_000);

test("failed intake PUTs are retried; the bytes waiting are bounded (UNAVAILABLE before anything is written)", async () => {
  const stream = "intake/retries";
  await fx.createStream(stream);
  const gate = new IntakeGate(fx.objects);
  const g = await fx.gateway("gw-retry", { objects: gate, intake: { maxPendingBytes: 1024 * 1024 } });
  await g.store.lead(stream, 0, (await fx.grant(stream, 0, "gw-retry"))!, {});
  const log = g.store.partition(stream, 0);

  gate.failuresLeft = 3;
  expect(await log.append(records(0, 2), meta())).toEqual({ baseOffset: 0, duplicate: false });
  expect(g.store.intakeStats()!.retries).toBeGreaterThanOrEqual(3);

  // Hold the intake: 100 KiB batches pile up to the 1 MiB bound, then appends are refused. The
  // twenty admissions run back to back (nothing can commit in between).
  gate.held = true;
  const outcomes = Array.from({ length: 20 }, (_, i) =>
    log.append(records(100 + i, 1, 100 * 1024), meta()).then(
      (r) => r.baseOffset,
      (e: unknown) => (e instanceof StrataError ? e.code : String(e)),
    ),
  );
  gate.release();
  const settled = await Promise.all(outcomes);
  const accepted = settled.filter((x) => typeof x === "number");
  const refused = settled.filter((x) => typeof x !== "number");
  expect(accepted.length).toBeGreaterThan(0);
  expect(accepted.length).toBeLessThanOrEqual(10);
  expect(new Set(refused)).toEqual(new Set(["UNAVAILABLE"]));
  expect(settled.slice(0, accepted.length)).toEqual(Array.from({ length: accepted.length }, (_, i) => 2 + i));
  // The refused append took no offset: the log stays dense.
  expect(await log.append(records(1000, 1), meta())).toEqual({ baseOffset: 2 + accepted.length, duplicate: false });
  await g.store.resign(stream, 0, "handoff");
}, 60_000);

test("an append that waits past ackTimeoutMs fails cleanly; its commit lands later and a retry is a duplicate", async () => {
  const stream = "intake/timeout";
  await fx.createStream(stream);
  const gate = new IntakeGate(fx.objects);
  const g = await fx.gateway("gw-timeout", { objects: gate, intake: { ackTimeoutMs: 200 } });
  await g.store.lead(stream, 0, (await fx.grant(stream, 0, "gw-timeout"))!, {});
  const log = g.store.partition(stream, 0);
  const producer = { id: 42, epoch: 0, seq: 0 };

  gate.held = true;
  expect(await codeOf(log.append(records(0, 3), meta(producer)))).toBe("STORAGE_ERROR");
  // A retry while the first copy still waits for the intake waits no longer than the first did.
  expect(await codeOf(log.append(records(0, 3), meta(producer)))).toBe("STORAGE_ERROR");
  expect(log.endOffset).toBe(0);
  gate.release();
  const retry = await log.append(records(0, 3), meta(producer));
  expect(retry).toEqual({ baseOffset: 0, duplicate: true });
  expect(await offsets(g.store, stream)).toEqual([0, 1, 2]);
  await g.store.resign(stream, 0, "handoff");
}, 60_000);

test("the metadata server restarted under load: appends wait or fail with 503, nothing acknowledged is lost", async () => {
  const stream = "intake/metadata-outage";
  await fx.createStream(stream);
  const a = await fx.gateway("gw-meta", { intake: { ackTimeoutMs: 500 } });
  const epoch = (await fx.grant(stream, 0, "gw-meta", 60_000))!;
  await a.store.lead(stream, 0, epoch, {});
  const log = a.store.partition(stream, 0);
  const acked: number[] = [];
  const failures = new Set<string>();
  let stop = false;
  const load = (async () => {
    for (let i = 0; !stop; i++) {
      try {
        const { baseOffset } = await log.append(records(i, 1), meta());
        acked.push(baseOffset);
      } catch (e) {
        failures.add(e instanceof StrataError ? e.code : String(e));
      }
    }
  })();
  while (acked.length < 20) await log.waitForData(log.endOffset, 1_000);
  await fx.sqld.kill();
  while (failures.size === 0) await new Promise((r) => setTimeout(r, 50)); // waits for a condition
  await fx.sqld.start();
  const resumedAt = acked.length;
  while (acked.length < resumedAt + 20) await log.waitForData(log.endOffset, 1_000);
  stop = true;
  await load;
  expect([...failures]).toEqual(["METADATA_UNAVAILABLE"]);
  await a.store.resign(stream, 0, "handoff");
  await fx.release(stream, 0, "gw-meta", epoch);

  // Another gateway rebuilds the partition: every acknowledged offset is there.
  const b = await fx.gateway("gw-meta-2");
  await b.store.lead(stream, 0, (await fx.grant(stream, 0, "gw-meta-2"))!, {});
  const seen = new Set(await offsets(b.store, stream));
  expect(acked.filter((o) => !seen.has(o))).toEqual([]);
  await b.store.resign(stream, 0, "handoff");
}, 120_000);

test("objects PUT concurrently commit in PUT order: a later object's records wait for the earlier one", async () => {
  const stream = "intake/order";
  await fx.createStream(stream, 2);
  const gate = new IntakeGate(fx.objects);
  const g = await fx.gateway("gw-order", { objects: gate });
  for (const p of [0, 1]) await g.store.lead(stream, p, (await fx.grant(stream, p, "gw-order"))!, {});
  gate.holdOnly = 1;
  let firstAcked = false;
  let secondAcked = false;
  const first = g.store.partition(stream, 0).append(records(0, 1), meta()).then(() => (firstAcked = true));
  await gate.heldPuts(1);
  const second = g.store.partition(stream, 1).append(records(1, 1), meta()).then(() => (secondAcked = true));
  while (g.store.intakeStats()!.puts < 1) await new Promise((r) => setTimeout(r, 10)); // the second object is in the store
  await g.store.partition(stream, 1).waitForData(0, 200);
  expect([firstAcked, secondAcked]).toEqual([false, false]);
  expect(g.store.partition(stream, 1).endOffset).toBe(0);
  gate.release();
  await Promise.all([first, second]);
  expect(g.store.intakeStats()!.puts).toBe(2);
  expect([g.store.partition(stream, 0).endOffset, g.store.partition(stream, 1).endOffset]).toEqual([1, 1]);
  for (const p of [0, 1]) await g.store.resign(stream, p, "handoff");
}, 60_000);
