// The dataset API's shapes (docs/datasets.md): request bodies as zod schemas (the one source of
// their types) and the answers. A version object is what POST /v1/datasets answers and what
// GET .../versions/{v} returns; core/datasets' order reads the same object.
import { z } from "zod";
import { isValidStreamName } from "../../core/log/stream-name.ts";

/** A dataset name: one path segment of the stream-name alphabet (it appears in URLs and the CLI). */
export const datasetNameSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,199}$/, { message: "a dataset name is 1-200 of a-z 0-9 . _ - (not starting with . _ -)" });
const streamNameSchema = z.string().refine(isValidStreamName, { message: "not a valid stream name" });

const fieldName = z.string().min(1).max(256);

export const createDatasetSchema = z.strictObject({
  name: datasetNameSchema,
  stream: streamNameSchema,
  /** A CEL expression (docs/filters.md); the version holds only matching records. */
  filter: z.string().min(1).optional(),
  /** The version's default projection of sample reads. */
  fields: z.array(fieldName).min(1).max(1024).optional(),
  /** Samples per span (the order's shuffle unit); default from the average sample size. */
  span_samples: z.number().int().min(1).max(65_536).optional(),
});
export type CreateDatasetBody = z.input<typeof createDatasetSchema>;
export type CreateDatasetRequest = z.output<typeof createDatasetSchema>;

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** The pinned range of one partition: offsets [start, end), global indexes [first_index, first_index + samples). */
export const datasetPartitionSchema = z.object({ partition: count, start: count, end: count, samples: count, first_index: count });
export type DatasetPartition = z.output<typeof datasetPartitionSchema>;

/** One immutable version of a dataset (`created_at`: wall-clock ms). Clients validate answers with it. */
export const datasetVersionSchema = z.object({
  name: z.string(),
  version: count,
  stream: z.string(),
  filter: z.string().nullable(),
  fields: z.array(z.string()).nullable(),
  samples: count,
  bytes: count,
  span_samples: z.number().int().min(1).max(65_536),
  created_at: count,
  partitions: z.array(datasetPartitionSchema),
});
export type DatasetVersion = z.output<typeof datasetVersionSchema>;

/** GET /v1/datasets: one entry per dataset name with live versions. */
export const datasetListSchema = z.object({ datasets: z.array(z.object({ name: z.string(), stream: z.string(), versions: count, latest: count })) });
export type DatasetSummary = z.output<typeof datasetListSchema>["datasets"][number];

/** GET /v1/datasets/{name}: the live versions, ascending. */
export const datasetDescriptionSchema = z.object({ name: z.string(), versions: z.array(datasetVersionSchema) });
export type DatasetDescription = z.output<typeof datasetDescriptionSchema>;

/** DELETE /v1/datasets/{name}/versions/{v}. */
export const releasedVersionSchema = z.object({ name: z.string(), version: count, released: z.literal(true) });

/** A version in a path: a positive integer or `latest`. */
export const versionParamSchema = z.union([z.literal("latest"), z.string().regex(/^[1-9]\d{0,15}$/, { message: 'a version is a positive integer or "latest"' }).transform(Number)]);
export type VersionRef = z.output<typeof versionParamSchema>;

const fieldsQuery = z
  .string()
  .optional()
  .transform((v) => (v === undefined ? undefined : v.split(",").filter((f) => f.length > 0)));

const intParam = (name: string) => z.string().regex(/^\d{1,16}$/, { message: `${name} must be a non-negative integer` }).transform(Number);

/** GET .../samples?start=S&count=N&fields=a,b&max_bytes=B */
export const sampleRangeQuerySchema = z.object({
  start: intParam("start"),
  count: intParam("count").optional(),
  fields: fieldsQuery,
  max_bytes: intParam("max_bytes").optional(),
});

/** POST .../samples {"indexes": [g…], "fields"?, "max_bytes"?} */
export const sampleIndexesSchema = z.strictObject({
  indexes: z.array(z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)).min(1),
  fields: z.array(fieldName).min(1).max(1024).optional(),
  max_bytes: z.number().int().min(1).optional(),
});
export type SampleIndexesBody = z.input<typeof sampleIndexesSchema>;

/**
 * A sample read's answer (JSON form; MessagePack carries the same keys with native bytes and
 * extension types): `samples[i]` is the fields map of global index `start + i` (range reads) or
 * of the i-th asked index (index reads), stored at `offsets[i]` = [partition, offset].
 */
export interface SampleReadResponse {
  readonly start: number | null;
  readonly samples: Record<string, unknown>[];
  readonly offsets: [number, number][];
}
