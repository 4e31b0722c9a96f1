// The queue store's hand-written statements against a real libSQL file: every column of every
// row kind is written and read back (first as inserts, then as conflicting upserts), settled
// records' rows are deleted, and a write of more rows than one statement holds goes through whole.
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { openDatabase } from "../../gateway/db/database.ts";
import type { QueuedRecord } from "../../gateway/queues/queued-record.ts";
import { emptyPartition, partitionKey, QueueChanges, type QueueState } from "../../gateway/queues/queue-state.ts";
import { QueueStore } from "../../gateway/queues/queue-store.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";

const dir = tempDir("strata-queue-store-");
afterAll(() => removeDir(dir));

function record(stream: string, partition: number, offset: number, state: QueuedRecord["state"], deliveries = 1, lastError: string | null = null): QueuedRecord {
  return { stream, partition, offset, deliveries, lastError, state };
}

/** The state as comparable plain data (partitions and records in key order). */
function plain(state: QueueState | undefined) {
  if (!state) return undefined;
  const partitions = [...state.partitions.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, p]) => ({ ...p, records: [...p.records.entries()].sort(([a], [b]) => a - b) }));
  return { group: state.group, config: state.config, createdAt: state.createdAt, partitions };
}

describe("QueueStore", () => {
  test("every column round-trips; upserts replace; settled rows are deleted; large writes span statements", async () => {
    const database = await openDatabase(pathToFileURL(join(dir, "meta.db")).href);
    try {
      const store = new QueueStore(database);
      const state: QueueState = {
        group: "g.1",
        config: { max_deliveries: 7, backoff: { initial_ms: 10, max_ms: 900, multiplier: 1.5, jitter: "equal" }, visibility_ms: 1234 },
        createdAt: 1_700_000_000_123,
        partitions: new Map(),
      };
      const a = emptyPartition("tasks/high", 0, 40);
      Object.assign(a, { acked: 3, deadLettered: 2, redelivered: 5, filtered: 1, dlqSeq: 9 });
      const b = emptyPartition("tasks/low", 2, 7);
      state.partitions.set(partitionKey(a.stream, a.partition), a);
      state.partitions.set(partitionKey(b.stream, b.partition), b);
      const inFlight = record(a.stream, 0, 11, { kind: "in_flight", receipt: "0.11.1.abc.tasks/high", deadline: 1_700_000_999_000 });
      const pending = record(a.stream, 0, 12, { kind: "pending", visibleAt: 1_700_000_500_000 }, 3, "boom ünïcode");
      const dying = record(a.stream, 0, 13, { kind: "dead_lettering", dlqSeq: 8 }, 7, "last error");
      const later = record(b.stream, 2, 5, { kind: "in_flight", receipt: "2.5.1.def.tasks/low", deadline: 1 });
      const changes = new QueueChanges();
      changes.configChanged = true;
      for (const r of [inFlight, pending, dying]) {
        a.records.set(r.offset, r);
        changes.touch(a, r);
      }
      b.records.set(later.offset, later);
      changes.touch(b, later);
      await store.write([store.snapshot(state, changes)]);
      expect(plain((await new QueueStore(database).load("g.1"))[0])).toEqual(plain(state));

      // Conflicting upserts: changed states, counters and configuration; an ack deletes its row.
      const next = new QueueChanges();
      next.configChanged = true;
      state.config = { ...state.config, max_deliveries: 2, visibility_ms: 99 };
      inFlight.state = { kind: "pending", visibleAt: 5 };
      inFlight.lastError = "nacked";
      pending.state = { kind: "in_flight", receipt: "0.12.4.xyz.tasks/high", deadline: 77 };
      pending.deliveries = 4;
      later.state = { kind: "acked" };
      b.records.delete(later.offset);
      b.acked = 1;
      a.cursor = 41;
      for (const r of [inFlight, pending]) next.touch(a, r);
      next.touch(b, later);
      await store.write([store.snapshot(state, next)]);
      expect(plain((await new QueueStore(database).load("g.1"))[0])).toEqual(plain(state));

      // More rows than one statement holds, written and then all deleted in one write each.
      const many = new QueueChanges();
      for (let offset = 100; offset < 1_300; offset++) {
        const r = record(b.stream, 2, offset, { kind: "in_flight", receipt: `2.${offset}.1.n.tasks/low`, deadline: offset });
        b.records.set(offset, r);
        many.touch(b, r);
      }
      b.cursor = 1_300;
      await store.write([store.snapshot(state, many)]);
      expect(plain((await new QueueStore(database).load("g.1"))[0])).toEqual(plain(state));
      const settle = new QueueChanges();
      for (const r of b.records.values()) {
        r.state = { kind: "acked" };
        settle.touch(b, r);
      }
      b.records.clear();
      b.acked += 1_200;
      await store.write([store.snapshot(state, settle)]);
      expect(plain((await new QueueStore(database).load("g.1"))[0])).toEqual(plain(state));
    } finally {
      database.close();
    }
  });
});
