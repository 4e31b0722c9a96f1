// Artefact versions of a stream (issue 17, docs/versions.md): one row per appended record whose
// `artefact` field holds an ArtefactRef, written by the LogService hook at append (migration 0009).
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * `seq` orders versions gateway-wide in append order (the listing's newest-first order and its
 * `before` cursor); (stream, partition, offset) names the record. `fields` is the record's other
 * fields as JSON ($base64 for bytes), null when larger than the versions limit.
 */
export const artefactVersions = sqliteTable(
  "artefact_versions",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    stream: text("stream").notNull(),
    partition: integer("partition").notNull(),
    offset: integer("offset").notNull(),
    artefact: text("artefact").notNull(),
    size: integer("size").notNull(),
    mediaType: text("media_type").notNull(),
    fileName: text("file_name"),
    timestamp: integer("timestamp").notNull(),
    fields: text("fields"),
  },
  (t) => [
    uniqueIndex("artefact_versions_record").on(t.stream, t.partition, t.offset),
    index("artefact_versions_stream_seq").on(t.stream, t.seq),
    index("artefact_versions_stream_artefact").on(t.stream, t.artefact),
  ],
);
