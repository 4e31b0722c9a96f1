// Metadata tables of the datasets subsystem (re-exported by schema.ts; migration 0005_datasets.sql).
// A dataset version is immutable: one row for the version and one per partition with its pinned
// range [start, end). A filtered version also stores the matching offsets of each partition
// (`matches`: unsigned LEB128 varints of the deltas between consecutive offsets, the first one
// relative to `start`), so a global index maps to an offset by one lookup (docs/datasets.md).
import { blob, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * One immutable version of a named dataset. `fields` is a JSON array of names, or null. A
 * released version keeps its row (`released_at` set, its partitions deleted) so that its number
 * is never handed out again: a resume state naming it can only fail, never read other data.
 */
export const datasetVersions = sqliteTable(
  "dataset_versions",
  {
    name: text("name").notNull(),
    version: integer("version").notNull(),
    stream: text("stream").notNull(),
    filter: text("filter"),
    fields: text("fields"),
    samples: integer("samples").notNull(),
    bytes: integer("bytes").notNull(),
    spanSamples: integer("span_samples").notNull(),
    createdAt: integer("created_at").notNull(),
    releasedAt: integer("released_at"),
  },
  (t) => [primaryKey({ columns: [t.name, t.version] })],
);

/** The pinned range of one partition in one version; `first_index` is the global index of its first sample. */
export const datasetPartitions = sqliteTable(
  "dataset_partitions",
  {
    name: text("name").notNull(),
    version: integer("version").notNull(),
    partition: integer("partition").notNull(),
    start: integer("start").notNull(),
    end: integer("end").notNull(),
    samples: integer("samples").notNull(),
    firstIndex: integer("first_index").notNull(),
    matches: blob("matches", { mode: "buffer" }),
  },
  (t) => [primaryKey({ columns: [t.name, t.version, t.partition] })],
);
