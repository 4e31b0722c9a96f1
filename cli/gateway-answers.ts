// The shapes of the gateway's JSON answers the CLI reads (README "HTTP API"), as schemas.
import { z } from "zod";

export const jsonBytes = z.object({ $base64: z.string() });

export const partitionInfo = z.object({
  partition: z.number().int().nonnegative(),
  start_offset: z.number().int().nonnegative(),
  end_offset: z.number().int().nonnegative(),
  bytes: z.number().nonnegative(),
});

export const streamInfo = z.object({
  name: z.string(),
  partitions: z.array(partitionInfo),
  retention: z.object({ ms: z.number().nullable(), bytes: z.number().nullable() }),
  created_at: z.number(),
  cleanup: z.enum(["delete", "compact"]),
  tombstone_ms: z.number().nullable(),
});
export type StreamInfo = z.output<typeof streamInfo>;

export const streamList = z.object({ streams: z.array(streamInfo) });

export const recordPositions = z.object({ records: z.array(z.object({ partition: z.number().int(), offset: z.number().int() })) });

export const readRecord = z.object({
  offset: z.number().int().nonnegative(),
  timestamp: z.number(),
  key: jsonBytes.nullable(),
  headers: z.record(z.string(), z.union([z.string(), jsonBytes])),
  /** Null for a tombstone (docs/compaction.md). */
  fields: z.record(z.string(), z.unknown()).nullable(),
});
export type ReadRecord = z.output<typeof readRecord>;

export const readPage = z.object({
  records: z.array(readRecord),
  next_offset: z.number().int().nonnegative(),
  end_offset: z.number().int().nonnegative(),
});
export type ReadPage = z.output<typeof readPage>;
