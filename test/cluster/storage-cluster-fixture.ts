// Shared set-up of the cluster-mode storage tests: one real libSQL server (sqld), one radosgw
// bucket prefix, and LogStores in cluster mode acting as gateways (each its own data directory
// and its own database connection). Leases are granted with the design's SQL directly.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { openDatabase, type Database } from "../../gateway/db/database.ts";
import { streams } from "../../gateway/db/schema.ts";
import { DEFAULT_INTAKE_LIMITS, type IntakeLimits } from "../../gateway/log/intake-limits.ts";
import { LogStore } from "../../gateway/log/log-store.ts";
import { resolveLimits, type StorageLimits } from "../../gateway/log/storage-limits.ts";
import { createGatewayMetrics } from "../../gateway/metrics.ts";
import type { ObjectStore } from "../../gateway/objects/object-store.ts";
import { S3ObjectStore } from "../../gateway/objects/s3-object-store.ts";
import { startS3, type S3TestStore } from "../helpers/ceph.ts";
import { startSqld, type SqldServer } from "../helpers/sqld.ts";

/** The database's clock in ms (docs/cluster.md): the clock every lease decision uses. */
export const DB_NOW = sql.raw("CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)");

export interface TestGateway {
  readonly node: string;
  readonly store: LogStore;
  readonly database: Database;
  /** onLeaseLost calls: [stream, partition, epoch]. */
  readonly lost: Array<[string, number, number]>;
}

export interface ClusterFixture {
  readonly sqld: SqldServer;
  readonly objects: S3ObjectStore;
  /** A connection of the test itself (grants, inspection). */
  readonly admin: Database;
  /** `objects`: the store this gateway writes through (a fault-injecting wrapper of `objects`), default `objects`. */
  gateway(node: string, opts?: { incarnation?: number; intake?: Partial<IntakeLimits>; limits?: Partial<StorageLimits>; objects?: ObjectStore }): Promise<TestGateway>;
  createStream(name: string, partitions?: number): Promise<void>;
  /** The design's grant: one upsert; the epoch, or undefined when another live holder has it. */
  grant(stream: string, partition: number, node: string, leaseMs?: number): Promise<number | undefined>;
  /** Ends the current lease at once (as if it had expired). */
  expire(stream: string, partition: number): Promise<void>;
  /** The design's clean release. */
  release(stream: string, partition: number, node: string, epoch: number): Promise<void>;
  close(): Promise<void>;
}

export async function startClusterFixture(): Promise<ClusterFixture> {
  const sqld = await startSqld();
  let s3: S3TestStore | undefined;
  try {
    s3 = await startS3();
  } catch (e) {
    await sqld.stop();
    throw e;
  }
  const objects = await S3ObjectStore.open({
    endpoint: s3.endpoint,
    region: s3.region,
    bucket: s3.bucket,
    prefix: `cluster-storage-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  const admin = await openDatabase(sqld.url);
  const dirs: string[] = [];
  const gateways: TestGateway[] = [];
  return {
    sqld,
    objects,
    admin,
    async gateway(node, opts = {}) {
      const dir = await mkdtemp(join(tmpdir(), `strata-cluster-${node}-`));
      dirs.push(dir);
      const database = await openDatabase(sqld.url);
      const lost: Array<[string, number, number]> = [];
      const store = await LogStore.open({
        dataDir: dir,
        objectStore: opts.objects ?? objects,
        db: database.db,
        metrics: createGatewayMetrics(),
        limits: resolveLimits(opts.limits ?? {}),
        onError: () => {},
        cluster: {
          node,
          incarnation: opts.incarnation ?? 1,
          intake: { ...DEFAULT_INTAKE_LIMITS, ...opts.intake },
          onLeaseLost: (stream, partition, epoch) => lost.push([stream, partition, epoch]),
        },
      });
      const g = { node, store, database, lost };
      gateways.push(g);
      return g;
    },
    async createStream(name, partitions = 1) {
      await admin.db.insert(streams).values({ name, partitions, retentionMs: null, retentionBytes: null, createdAt: Date.now() }).onConflictDoNothing();
    },
    async grant(stream, partition, node, leaseMs = 10_000) {
      const rows = await admin.db.all<{ epoch: number }>(sql`
        INSERT INTO partition_leases (stream, partition, holder, epoch, expires_at, granted_at)
        VALUES (${stream}, ${partition}, ${node}, 1, ${DB_NOW} + ${leaseMs}, ${DB_NOW})
        ON CONFLICT (stream, partition) DO UPDATE SET
          holder = ${node},
          epoch = CASE WHEN holder IS ${node} THEN epoch ELSE epoch + 1 END,
          expires_at = excluded.expires_at,
          granted_at = excluded.granted_at
        WHERE holder IS NULL OR holder = ${node} OR expires_at < ${DB_NOW}
        RETURNING epoch`);
      return rows[0]?.epoch;
    },
    async expire(stream, partition) {
      await admin.db.run(sql`UPDATE partition_leases SET expires_at = 0 WHERE stream = ${stream} AND partition = ${partition}`);
    },
    async release(stream, partition, node, epoch) {
      await admin.db.run(sql`UPDATE partition_leases SET holder = NULL, expires_at = 0 WHERE stream = ${stream} AND partition = ${partition} AND holder = ${node} AND epoch = ${epoch}`);
    },
    async close() {
      for (const g of gateways) {
        await g.store.close().catch(() => {});
        g.database.close();
      }
      const keys: string[] = [];
      for await (const o of objects.list("")) keys.push(o.key);
      await objects.deleteMany(keys).catch(() => {});
      await objects.close();
      admin.close();
      await sqld.stop();
      await s3?.stop();
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    },
  };
}
