// Metadata tables of the groups subsystem (re-exported by schema.ts; migration 0003_groups.sql).
// Written on membership, subscription, epoch and assignment changes only (docs/groups.md).
import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** A consumer group the coordinator knows: its epoch, bumped by every membership or subscription change. */
export const consumerGroups = sqliteTable("consumer_groups", {
  group: text("group").primaryKey(),
  epoch: integer("epoch").notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/**
 * A member of a group. Partition lists are JSON: `assigned` is [[stream, partition, since_epoch]],
 * `revoking` and `target` are [[stream, partition]]; `state` is stable, unrevoked-partitions or
 * unreleased-partitions. `last_heartbeat` is written with the other columns only (not on every
 * heartbeat): after a restart every session restarts from the restart time.
 */
export const consumerGroupMembers = sqliteTable(
  "consumer_group_members",
  {
    group: text("group").notNull().references(() => consumerGroups.group, { onDelete: "cascade" }),
    member: text("member").notNull(),
    instance: text("instance"),
    streams: text("streams").notNull(),
    sessionTimeoutMs: integer("session_timeout_ms").notNull(),
    memberEpoch: integer("member_epoch").notNull(),
    state: text("state").notNull(),
    assigned: text("assigned").notNull(),
    revoking: text("revoking").notNull(),
    target: text("target").notNull(),
    joinedAt: integer("joined_at").notNull(),
    lastHeartbeat: integer("last_heartbeat").notNull(),
  },
  (t) => [primaryKey({ columns: [t.group, t.member] })],
);
