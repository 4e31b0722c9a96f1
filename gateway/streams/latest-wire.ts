// `GET /v1/streams/{name}/latest` on the wire: its query and its answer (JSON; MessagePack has the
// same shape with native bytes and values). Records are in the read routes' JSON form.
import { z } from "zod";
import type { JsonRecord } from "./read-wire.ts";

export const latestQuerySchema = z.object({
  /** One key (UTF-8 text, as publishes send string keys); absent: every key. */
  key: z.string().optional(),
  /** A watermark of an earlier answer; with wait_ms the answer waits until the map moved past it. */
  after: z.string().max(64).optional(),
  wait_ms: z
    .string()
    .regex(/^\d{1,9}$/, { message: "wait_ms must be a non-negative integer" })
    .transform(Number)
    .optional(),
});

export type LatestRecord = JsonRecord & { partition: number };

export interface LatestResponse {
  stream: string;
  /** Opaque: pass it back as `after` to wait for the next change. */
  watermark: string;
  records: LatestRecord[];
}

/** The body of `POST /v1/admin/compact`. */
export const compactRequestSchema = z.object({ stream: z.string() });

/** What one on-demand compaction did. */
export interface CompactResponse {
  stream: string;
  /** Segments rewritten, and records they no longer hold. */
  segments_rewritten: number;
  records_removed: number;
}
