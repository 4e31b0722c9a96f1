// Shared set-up for the storage-engine tests: a temp directory with a real libSQL file, a real
// local-directory object store (or any given store) and a LogStore over them.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeRecord } from "../../core/log/batch.ts";
import type { ProducerRef } from "../../core/log/record.ts";
import { openDatabase, type Database } from "../../gateway/db/database.ts";
import { streams } from "../../gateway/db/schema.ts";
import { createGatewayMetrics, type GatewayMetrics } from "../../gateway/metrics.ts";
import { LocalObjectStore } from "../../gateway/objects/local-object-store.ts";
import { LogStore, type LogStoreConfig } from "../../gateway/log/log-store.ts";
import type { ObjectStore } from "../../gateway/objects/object-store.ts";
import { resolveLimits, type StorageLimits } from "../../gateway/log/storage-limits.ts";

export interface Fixture {
  readonly dir: string;
  readonly dataDir: string;
  readonly database: Database;
  readonly objectStore: ObjectStore;
  readonly errors: unknown[];
  /** The metrics of the most recently opened LogStore. */
  readonly metrics: () => GatewayMetrics;
  open(limits?: Partial<StorageLimits>, extra?: Partial<LogStoreConfig>): Promise<LogStore>;
  createStream(name: string, partitions?: number, retention?: { ms?: number | null; bytes?: number | null }): Promise<void>;
  cleanup(): Promise<void>;
}

export async function makeFixture(opts: { makeStore?: (dir: string) => Promise<ObjectStore>; dir?: string } = {}): Promise<Fixture> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "strata-log-")));
  const dataDir = join(dir, "data");
  const database = await openDatabase(`file:${join(dir, "meta.db")}`);
  const objectStore = opts.makeStore ? await opts.makeStore(dir) : await LocalObjectStore.open(join(dir, "objects"));
  const errors: unknown[] = [];
  const stores: LogStore[] = [];
  let lastMetrics: GatewayMetrics | undefined;
  return {
    dir,
    dataDir,
    database,
    objectStore,
    errors,
    metrics: () => {
      if (!lastMetrics) throw new Error("no LogStore opened yet");
      return lastMetrics;
    },
    async open(limits = {}, extra = {}) {
      lastMetrics = createGatewayMetrics();
      const store = await LogStore.open({
        dataDir,
        objectStore,
        db: database.db,
        metrics: lastMetrics,
        limits: resolveLimits(limits),
        onError: (e) => errors.push(e),
        ...extra,
      });
      stores.push(store);
      return store;
    },
    async createStream(name, partitions = 1, retention = {}) {
      await database.db
        .insert(streams)
        .values({ name, partitions, retentionMs: retention.ms ?? null, retentionBytes: retention.bytes ?? null, createdAt: Date.now() })
        .onConflictDoNothing();
    },
    async cleanup() {
      for (const s of stores) await s.close();
      database.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Encoded records with fields {i, pad} where pad makes each about `size` bytes. */
export function records(from: number, count: number, size = 100): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = from; i < from + count; i++) {
    out.push(encodeRecord({ timestamp: 1000, key: null, headers: {}, fields: { i, pad: "x".repeat(Math.max(0, size - 20)) } }, 1000));
  }
  return out;
}

export function meta(producer: ProducerRef | null = null, timestamp = Date.now()) {
  return { firstTimestamp: timestamp, maxTimestamp: timestamp, producer };
}

export const MiB = 1024 * 1024;
