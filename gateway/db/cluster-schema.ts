// Cluster mode (issue 14, docs/cluster.md): gateway membership, partition leases with fencing
// epochs, singleton locks, the intake objects that make acknowledged records durable across
// machines, and secrets every gateway of the cluster shares (migration 0011).
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * One row per gateway that ever joined. `incarnation` grows on every start of the node (the
 * fencing epoch of its pack commits); `expires_at` (the database's clock, ms) is pushed forward by
 * each heartbeat. A row past `expires_at` is a dead member; `state` is "up" or "leaving".
 */
export const clusterNodes = sqliteTable("cluster_nodes", {
  node: text("node").primaryKey(),
  url: text("url").notNull(),
  incarnation: integer("incarnation").notNull(),
  state: text("state").notNull(),
  startedAt: integer("started_at").notNull(),
  heartbeatAt: integer("heartbeat_at").notNull(),
  expiresAt: integer("expires_at").notNull(),
});

/**
 * Leadership of one partition. `epoch` grows by one on every grant to a different holder (or
 * after a release); a commit of the leader (intake range, segment, producer snapshot) checks
 * holder and epoch in its own transaction. `holder` is null once released.
 */
export const partitionLeases = sqliteTable(
  "partition_leases",
  {
    stream: text("stream").notNull(),
    partition: integer("partition").notNull(),
    holder: text("holder"),
    epoch: integer("epoch").notNull(),
    expiresAt: integer("expires_at").notNull(),
    grantedAt: integer("granted_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.stream, t.partition] }), index("partition_leases_holder").on(t.holder)],
);

/** Cluster-wide singletons (artefact GC, the coordinator of stateful services): same grant rules as a partition lease. */
export const clusterLocks = sqliteTable("cluster_locks", {
  name: text("name").primaryKey(),
  holder: text("holder"),
  epoch: integer("epoch").notNull(),
  expiresAt: integer("expires_at").notNull(),
});

/**
 * An intake object: the records of many partitions a gateway wrote in one PUT. The row is written
 * before the PUT, so an object whose ranges never committed (a crash between PUT and commit) is
 * still found and deleted by the sweeper once no range names it.
 */
export const intakeObjects = sqliteTable("intake_objects", {
  objectKey: text("object_key").primaryKey(),
  node: text("node").notNull(),
  bytes: integer("bytes").notNull(),
  createdAt: integer("created_at").notNull(),
});

/**
 * Records [base_offset, end_offset) of one partition held at [position, position + length) of an
 * intake object: whole batches in the stored format. Written (fenced by the lease's epoch) before
 * the records are acknowledged; deleted once a committed segment covers them.
 */
export const intakeRanges = sqliteTable(
  "intake_ranges",
  {
    stream: text("stream").notNull(),
    partition: integer("partition").notNull(),
    baseOffset: integer("base_offset").notNull(),
    endOffset: integer("end_offset").notNull(),
    objectKey: text("object_key").notNull(),
    position: integer("position").notNull(),
    length: integer("length").notNull(),
    epoch: integer("epoch").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.stream, t.partition, t.baseOffset] }), index("intake_ranges_object").on(t.objectKey)],
);

/** Values every gateway of the cluster must agree on (the token signing key), created by the first to need one. */
export const clusterSecrets = sqliteTable("cluster_secrets", {
  name: text("name").primaryKey(),
  value: text("value").notNull(),
  createdAt: integer("created_at").notNull(),
});
