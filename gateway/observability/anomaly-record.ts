// The records of `_strata/anomalies` (docs/anomalies.md): one per published flag, written by the
// gateways only, and their form in `GET /v1/anomalies`. The stored fields are checked by the same
// schema when read back, so a record that is not a flag is skipped, never served half-formed.
import { z } from "zod";
import type { Fields, LogRecord } from "../../core/log/record.ts";

/** The gateways' anomaly stream: one partition, outside the public stream-name rule. */
export const ANOMALIES_STREAM = "_strata/anomalies";

export const ANOMALY_KINDS = ["record_size", "publish_rate", "group_processing", "queue_processing"] as const;
export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

/** A flag as detected: what was measured, the estimate it was judged against, and why it was flagged. */
export interface AnomalyFlag {
  readonly kind: AnomalyKind;
  readonly stream?: string;
  readonly group?: string;
  readonly partition?: number;
  /** The observation: bytes per record, records per second, or milliseconds of processing. */
  readonly value: number;
  readonly mean: number;
  readonly stddev: number;
  /** The value above which an observation is flagged (docs/anomalies.md, the rule). */
  readonly threshold: number;
  readonly reason: string;
}

const flagFieldsSchema = z.strictObject({
  kind: z.enum(ANOMALY_KINDS),
  stream: z.string().optional(),
  group: z.string().optional(),
  partition: z.number().int().min(0).optional(),
  value: z.number(),
  mean: z.number(),
  stddev: z.number(),
  threshold: z.number(),
  reason: z.string(),
});

/** One entry of `GET /v1/anomalies`: the flag with its record's offset and timestamp. */
export interface AnomalyEntry extends AnomalyFlag {
  readonly offset: number;
  readonly timestamp: number;
}

/** A flag's record fields (absent optional parts are left out). */
export function flagFields(flag: AnomalyFlag): Fields {
  const fields: Record<string, string | number> = { kind: flag.kind, value: flag.value, mean: flag.mean, stddev: flag.stddev, threshold: flag.threshold, reason: flag.reason };
  if (flag.stream !== undefined) fields.stream = flag.stream;
  if (flag.group !== undefined) fields.group = flag.group;
  if (flag.partition !== undefined) fields.partition = flag.partition;
  return fields;
}

/** The entry a stored record holds, or undefined when its fields are not a flag. */
export function entryOf(record: LogRecord): AnomalyEntry | undefined {
  const parsed = flagFieldsSchema.safeParse(record.fields);
  if (!parsed.success) return undefined;
  const { stream, group, partition, ...rest } = parsed.data;
  return {
    offset: record.offset,
    timestamp: record.timestamp,
    ...rest,
    ...(stream === undefined ? {} : { stream }),
    ...(group === undefined ? {} : { group }),
    ...(partition === undefined ? {} : { partition }),
  };
}
