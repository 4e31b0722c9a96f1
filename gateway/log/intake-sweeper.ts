// The intake sweeper of cluster mode (docs/cluster.md), run by the holder of the cluster lock
// "intake-sweeper" every intake.sweepMs: it deletes the intake ranges a committed segment covers
// (and those of partitions that no longer exist), then the intake objects no range names once
// they are older than orphanGraceMs (a PUT whose commit never came, or whose ranges are all
// covered). An object's row goes first, in a statement that re-checks no range names it, and a
// range commit requires the row (intake-catalog.ts): so a late commit can never name an object
// the sweeper deleted. An object whose delete fails gets its row back for the next sweep.
import { getLogger } from "@logtape/logtape";
import { sql } from "drizzle-orm";
import type { MetadataDb } from "../db/database.ts";
import { intakeObjects } from "../db/cluster-schema.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import { errorText } from "../objects/errno.ts";
import type { IntakeLimits } from "./intake-limits.ts";

const log = getLogger(["strata", "log", "intake"]);

/** Objects looked at per sweep (the next sweep takes the rest). */
const OBJECTS_PER_SWEEP = 1_000;

export interface SweepOutcome {
  readonly rangesDeleted: number;
  readonly objectsDeleted: number;
}

/** One sweep; `now` is wall-clock ms (the objects' created_at is their writer's wall clock). */
export async function sweepIntake(db: MetadataDb, store: ObjectStore, limits: IntakeLimits, now: number = Date.now()): Promise<SweepOutcome> {
  const ranges = await db.all<{ object_key: string }>(sql`
    DELETE FROM intake_ranges
    WHERE end_offset <= (SELECT MAX(s.end_offset) FROM segments s WHERE s.stream = intake_ranges.stream AND s.partition = intake_ranges.partition)
       OR NOT EXISTS (SELECT 1 FROM partitions p WHERE p.stream = intake_ranges.stream AND p.partition = intake_ranges.partition)
    RETURNING object_key`);
  const doomed = await db.all<{ object_key: string; node: string; bytes: number; created_at: number }>(sql`
    DELETE FROM intake_objects
    WHERE object_key IN (
      SELECT o.object_key FROM intake_objects o
      WHERE o.created_at < ${now - limits.orphanGraceMs}
        AND NOT EXISTS (SELECT 1 FROM intake_ranges r WHERE r.object_key = o.object_key)
      LIMIT ${OBJECTS_PER_SWEEP})
    RETURNING object_key, node, bytes, created_at`);
  let objectsDeleted = 0;
  for (const o of doomed) {
    try {
      await store.delete(o.object_key);
      objectsDeleted++;
    } catch (e) {
      log.warn("deleting intake object {key} failed, kept for the next sweep: {error}", { key: o.object_key, error: errorText(e) });
      await db
        .insert(intakeObjects)
        .values({ objectKey: o.object_key, node: o.node, bytes: o.bytes, createdAt: o.created_at })
        .onConflictDoNothing()
        .catch(() => {});
    }
  }
  return { rangesDeleted: ranges.length, objectsDeleted };
}
