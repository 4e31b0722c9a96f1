// The JSON shape of an artefact version (GET /v1/streams/{name}/versions and .../versions/{ref}),
// shared by the route and the clients that read it.
import { z } from "zod";

export const versionSchema = z.object({
  partition: z.number().int().nonnegative(),
  offset: z.number().int().nonnegative(),
  /** The ArtefactRef's manifest id: BLAKE3-256 of the manifest's encoding (docs/versions.md). */
  artefact: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  media_type: z.string(),
  file_name: z.string().nullable(),
  /** The record's timestamp, milliseconds since the epoch. */
  timestamp: z.number().int().nonnegative(),
  /** The record's other fields as JSON, null when over the index's size limit. */
  fields: z.record(z.string(), z.unknown()).nullable(),
});

export type VersionJson = z.infer<typeof versionSchema>;

export const versionListSchema = z.object({
  stream: z.string(),
  versions: z.array(versionSchema),
  /** Pass as `before` for the next (older) page; null when this page is the last. */
  next_before: z.number().int().nullable(),
});

export type VersionListJson = z.infer<typeof versionListSchema>;
