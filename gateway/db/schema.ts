// Metadata schema (drizzle-orm on libSQL). Migrations are generated from this file by
// `npx drizzle-kit generate` into gateway/db/migrations and applied at start.
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

export * from "./groups-schema.ts";
export * from "./queues-schema.ts";
export * from "./datasets-schema.ts";
export * from "./jobs-schema.ts";
export * from "./gradients-schema.ts";
export * from "./versions-schema.ts";
export * from "./fleet-schema.ts";
export * from "./cluster-schema.ts";

export const streams = sqliteTable("streams", {
  name: text("name").primaryKey(),
  partitions: integer("partitions").notNull(),
  retentionMs: integer("retention_ms"),
  retentionBytes: integer("retention_bytes"),
  createdAt: integer("created_at").notNull(),
  /** "delete" (records leave by retention only) or "compact" (docs/compaction.md). */
  cleanup: text("cleanup", { enum: ["delete", "compact"] }).notNull().default("delete"),
  /** How long a tombstone outlives the records it removes; null: the compaction limits' default. */
  tombstoneMs: integer("tombstone_ms"),
});

/** One row per partition; start_offset moves forward as retention removes segments. */
export const partitions = sqliteTable(
  "partitions",
  {
    stream: text("stream").notNull().references(() => streams.name, { onDelete: "cascade" }),
    partition: integer("partition").notNull(),
    startOffset: integer("start_offset").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.stream, t.partition] })],
);

/** A sealed segment: an immutable object in the store covering [base_offset, end_offset). */
export const segments = sqliteTable(
  "segments",
  {
    stream: text("stream").notNull(),
    partition: integer("partition").notNull(),
    baseOffset: integer("base_offset").notNull(),
    endOffset: integer("end_offset").notNull(),
    bytes: integer("bytes").notNull(),
    firstTimestamp: integer("first_timestamp").notNull(),
    maxTimestamp: integer("max_timestamp").notNull(),
    objectKey: text("object_key").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.stream, t.partition, t.baseOffset] })],
);

/**
 * Idempotent-producer state as of the last sealed segment; batches still in the WAL are replayed
 * on top of it at start. `recent` is a JSON array of [seq, base_offset, count] (newest last).
 */
export const producers = sqliteTable(
  "producers",
  {
    stream: text("stream").notNull(),
    partition: integer("partition").notNull(),
    producerId: integer("producer_id").notNull(),
    epoch: integer("epoch").notNull(),
    recent: text("recent").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.stream, t.partition, t.producerId] })],
);

export const consumerOffsets = sqliteTable(
  "consumer_offsets",
  {
    group: text("group").notNull(),
    stream: text("stream").notNull(),
    partition: integer("partition").notNull(),
    offset: integer("offset").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.group, t.stream, t.partition] })],
);

/** An immutable pack object (packs/<id>.pack) holding chunks; `bytes` is its object size. */
export const packs = sqliteTable("packs", {
  id: text("id").primaryKey(),
  objectKey: text("object_key").notNull(),
  bytes: integer("bytes").notNull(),
  chunkCount: integer("chunk_count").notNull(),
  createdAt: integer("created_at").notNull(),
});

/**
 * The chunk index: hash (64 lowercase hex) → (pack, offset of the data, length). `seen_at` is
 * when the chunk was stored, reported present or touched by a manifest PUT: GC spares it for
 * the grace period after that.
 */
export const chunks = sqliteTable(
  "chunks",
  {
    hash: text("hash").primaryKey(),
    pack: text("pack").notNull(),
    offset: integer("offset").notNull(),
    length: integer("length").notNull(),
    seenAt: integer("seen_at").notNull(),
  },
  (t) => [index("chunks_pack").on(t.pack)],
);

/** A stored manifest (its bytes are the object manifests/<id>.msgpack). */
export const manifests = sqliteTable("manifests", {
  id: text("id").primaryKey(),
  size: integer("size").notNull(),
  mediaType: text("media_type").notNull(),
  chunkCount: integer("chunk_count").notNull(),
  bytes: integer("bytes").notNull(),
  uploadedAt: integer("uploaded_at").notNull(),
});

/** ArtefactRefs seen in appended records: a manifest stays live while such a record is retained. */
export const manifestRefs = sqliteTable(
  "manifest_refs",
  {
    stream: text("stream").notNull(),
    partition: integer("partition").notNull(),
    offset: integer("offset").notNull(),
    manifest: text("manifest").notNull(),
  },
  (t) => [primaryKey({ columns: [t.stream, t.partition, t.offset, t.manifest] }), index("manifest_refs_manifest").on(t.manifest)],
);

/**
 * Issued access tokens (docs/auth.md). The token itself is never stored: a JWT signed with the
 * gateway's key carries its scopes; this row lists it and records its revocation.
 */
export const tokens = sqliteTable("tokens", {
  id: text("id").primaryKey(),
  subject: text("subject").notNull(),
  /** JSON array of {action, streams}. */
  scopes: text("scopes").notNull(),
  issuedAt: integer("issued_at").notNull(),
  expiresAt: integer("expires_at").notNull(),
  /** Null while the token is valid; set once by DELETE /v1/tokens/{id}. */
  revokedAt: integer("revoked_at"),
});

/**
 * Which subject registered a producer id: only that subject's tokens may publish with it or
 * fence it (a new epoch). A producer id is owned gateway-wide, across streams.
 */
export const producerOwners = sqliteTable("producer_owners", {
  producerId: integer("producer_id").primaryKey(),
  subject: text("subject").notNull(),
  registeredAt: integer("registered_at").notNull(),
});
