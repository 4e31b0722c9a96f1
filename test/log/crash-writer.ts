// Child process of crash.test.ts: appends with acks=local from several idempotent producers as
// fast as it can and prints one line per acknowledged batch (with its offset), until it is killed.
// Usage: bun crash-writer.ts <dir>
import { join } from "node:path";
import { encodeRecord } from "../../core/log/batch.ts";
import { openDatabase } from "../../gateway/db/database.ts";
import { streams } from "../../gateway/db/schema.ts";
import { createGatewayMetrics } from "../../gateway/metrics.ts";
import { LocalObjectStore } from "../../gateway/objects/local-object-store.ts";
import { LogStore } from "../../gateway/log/log-store.ts";
import { resolveLimits } from "../../gateway/log/storage-limits.ts";

export const CRASH_STREAM = "crash/s";
export const WRITERS = 6;
export const PER_BATCH = 20;
export const CRASH_LIMITS = { maxBatchBytes: 64 * 1024, segmentBytes: 256 * 1024, memoryTailBytes: 64 * 1024 };

/** The records of batch `seq` of writer `w`: deterministic, so a retry resends the same bytes. */
export function writerBatch(w: number, seq: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let j = 0; j < PER_BATCH; j++) {
    const k = seq * PER_BATCH + j;
    out.push(encodeRecord({ timestamp: 1, key: null, headers: {}, fields: { w, k, pad: "p".repeat(400) } }, 1));
  }
  return out;
}

async function main(dir: string): Promise<void> {
  const database = await openDatabase(`file:${join(dir, "meta.db")}`);
  await database.db
    .insert(streams)
    .values({ name: CRASH_STREAM, partitions: 1, retentionMs: null, retentionBytes: null, createdAt: Date.now() })
    .onConflictDoNothing();
  const store = await LogStore.open({
    dataDir: join(dir, "data"),
    objectStore: await LocalObjectStore.open(join(dir, "objects")),
    db: database.db,
    metrics: createGatewayMetrics(),
    limits: resolveLimits(CRASH_LIMITS),
    onError: (e, what) => process.stderr.write(`${what}: ${String(e)}\n`),
  });
  await store.openPartitions(CRASH_STREAM, 1, {});
  const log = store.partition(CRASH_STREAM, 0);
  // stdout is this process's report to the test: one line each.
  const report = (line: string): void => void process.stdout.write(`${line}\n`);
  report("ready");
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      // A restarted producer resends its last few batches (as one unsure of its acks would): the
      // log must answer them as duplicates with their original offsets.
      const last = log.producerState(w + 1)?.lastSeq;
      for (let seq = last === undefined ? 0 : Math.max(0, last - 2); ; seq++) {
        const producer = { id: w + 1, epoch: 0, seq };
        const { baseOffset } = await log.append(writerBatch(w, seq), { firstTimestamp: 1, maxTimestamp: 1, producer }, "local");
        report(JSON.stringify({ w, seq, baseOffset }));
      }
    }),
  );
}

if (import.meta.main) await main(process.argv[2]!);
