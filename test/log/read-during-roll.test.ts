// Reads of the newest records while the active WAL rolls under them. A roll closes the WAL's
// descriptor before it renames the file and installs the pending segment and the next WAL, so a
// read racing it finds a closed file (EBADF) with the layout not yet moved: it must wait for the
// new layout, never fail (with 25 MB records this surfaced as a 500 through the HTTP read route).
import { afterEach, beforeEach, expect, test } from "bun:test";
import { makeFixture, meta, records, type Fixture } from "./log-fixture.ts";

let fx: Fixture;
beforeEach(async () => {
  fx = await makeFixture();
  await fx.createStream("t/roll", 1);
});
afterEach(async () => {
  await fx.cleanup();
});

test("readers of the active WAL never fail while it rolls under them", async () => {
  const recordBytes = 64 * 1024;
  // No memory tail: every read of a recent record goes to the active WAL (or the file it became).
  const store = await fx.open({ segmentBytes: 4 * recordBytes, maxBatchBytes: 2 * recordBytes, memoryTailBytes: 0 });
  await store.openPartitions("t/roll", 1, {});
  const log = store.partition("t/roll", 0);
  const total = 300;
  let writing = true;
  const failures: unknown[] = [];
  let reads = 0;
  const reader = async (): Promise<void> => {
    while (writing) {
      // Yield to the event loop: reads served from memory settle in microtasks only.
      await new Promise((resolve) => setImmediate(resolve));
      const end = log.endOffset;
      if (end < 2) continue;
      // The second newest record: the memory tail holds only the newest batch, so this one is read
      // from the active WAL (or from the file it was just sealed into).
      try {
        const got = await log.read(end - 2, { maxRecords: 1, maxBytes: 1 });
        expect(got.map((r) => r.offset)).toEqual([end - 2]);
        reads++;
      } catch (e) {
        failures.push(e);
      }
    }
  };
  const readers = [reader(), reader(), reader()];
  for (let i = 0; i < total; i++) await log.append(records(i, 1, recordBytes), meta(), "local");
  writing = false;
  await Promise.all(readers);
  expect(failures).toEqual([]);
  expect(reads).toBeGreaterThan(0);
  // Every record once, in order (a read returns batches of one tier: continue from its end).
  const seen: unknown[] = [];
  while (seen.length < total) {
    const got = await log.read(seen.length, { maxRecords: total, maxBytes: total * 2 * recordBytes });
    expect(got.length).toBeGreaterThan(0);
    for (const r of got) seen.push(r.fields?.["i"]);
  }
  expect(seen).toEqual(Array.from({ length: total }, (_, i) => i));
}, 60_000);
