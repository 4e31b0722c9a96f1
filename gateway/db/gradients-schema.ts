// Metadata tables of the gradients subsystem (re-exported by schema.ts; migration 0007_gradients.sql).
// A step's signature is fixed by its first accepted contribution; every accepted contribution has a
// row, written in the same transaction as the signature when it is the first. A row's partition and
// offset are null between the acceptance and the append of its record (docs/gradients.md): a retry
// of the same contribution finishes the append, a failed append removes the row again.
import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** One step of one gradient stream: its world size and signature (JSON: `[[name, dtype, shape], ...]` sorted by name). */
export const gradientSteps = sqliteTable(
  "gradient_steps",
  {
    stream: text("stream").notNull(),
    step: integer("step").notNull(),
    worldSize: integer("world_size").notNull(),
    signature: text("signature").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.stream, t.step] })],
);

/** One rank's accepted contribution to a step: the BLAKE3 digest of its payload and where its record is. */
export const gradientContributions = sqliteTable(
  "gradient_contributions",
  {
    stream: text("stream").notNull(),
    step: integer("step").notNull(),
    rank: integer("rank").notNull(),
    digest: text("digest").notNull(),
    partition: integer("partition"),
    offset: integer("offset"),
    acceptedAt: integer("accepted_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.stream, t.step, t.rank] })],
);
