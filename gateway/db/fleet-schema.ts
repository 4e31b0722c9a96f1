// Metadata tables of the fleet (re-exported by schema.ts; migration 0010_fleet.sql): the devices
// that report with their heartbeat, and staged rollouts of an artefact to the devices pinning a
// stream (docs/fleet.md). JSON columns hold what the device or the operator sent, validated.
import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** A device as of its last heartbeat. `labels` and `pins` are JSON objects of strings, `errors` a JSON array. */
export const devices = sqliteTable("devices", {
  id: text("id").primaryKey(),
  labels: text("labels").notNull(),
  pins: text("pins").notNull(),
  outboxRecords: integer("outbox_records").notNull(),
  transport: text("transport").notNull(),
  version: text("version").notNull(),
  errors: text("errors").notNull(),
  firstSeen: integer("first_seen").notNull(),
  lastSeen: integer("last_seen").notNull(),
});

/**
 * A staged rollout of `artefact` on `stream`. `percent_bp` is the percentage in basis points
 * (0..10000); `previous` is what devices outside it keep (null: whatever they run). `state` is
 * active, paused, completed or rolled-back (gateway/fleet/rollout-state.ts).
 */
export const rollouts = sqliteTable("rollouts", {
  id: text("id").primaryKey(),
  stream: text("stream").notNull(),
  artefact: text("artefact").notNull(),
  previous: text("previous"),
  percentBp: integer("percent_bp").notNull(),
  labels: text("labels").notNull(),
  maxFailurePercent: integer("max_failure_percent"),
  state: text("state").notNull(),
  reason: text("reason"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** A device that reported a failure installing a rollout's target (download, verification, the pin callback). */
export const rolloutFailures = sqliteTable(
  "rollout_failures",
  {
    rolloutId: text("rollout_id").notNull(),
    deviceId: text("device_id").notNull(),
    message: text("message").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.rolloutId, t.deviceId] })],
);
