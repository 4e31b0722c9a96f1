// The part of a dataset version the order depends on: its samples, partition after partition,
// and the span length. Spans are runs of `span_samples` consecutive global indexes inside one
// partition (the last span of a partition may be shorter); they never cross partitions.
import { z } from "zod";
import { StrataError } from "../errors.ts";
import { parseInput } from "../util/parse-input.ts";

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const orderVersionSchema = z.object({
  name: z.string().min(1),
  version: count,
  samples: count,
  span_samples: z.number().int().positive().max(2 ** 32 - 1),
  partitions: z.array(
    z.object({
      partition: count,
      start: count,
      end: count,
      samples: count,
      first_index: count,
    }),
  ),
});

export type OrderVersion = z.output<typeof orderVersionSchema>;

/** The spans of a version in global order: span k covers global indexes [starts[k], starts[k] + lengths[k]). */
export interface Spans {
  readonly starts: Float64Array;
  readonly lengths: Uint32Array;
  readonly samples: number;
  /** The version's span_samples (every span but a partition's last has this many samples). */
  readonly spanSamples: number;
}

/** Validates a version (schema, then that partitions tile 0..samples-1 in order) and lists its spans. */
export function spansOf(input: unknown): Spans {
  const version = parseInput(orderVersionSchema, input, "dataset version");
  let next = 0;
  let spanCount = 0;
  for (const p of version.partitions) {
    if (p.first_index !== next) {
      throw new StrataError("BAD_REQUEST", `dataset version: partition ${p.partition} has first_index ${p.first_index}, expected ${next} (partitions tile the global indexes in order)`);
    }
    next += p.samples;
    spanCount += Math.ceil(p.samples / version.span_samples);
  }
  if (next !== version.samples) throw new StrataError("BAD_REQUEST", `dataset version: partitions hold ${next} samples, the version says ${version.samples}`);
  if (spanCount > 2 ** 32 - 1) throw new StrataError("BAD_REQUEST", `dataset version: ${spanCount} spans is over 2^32 - 1`);
  const starts = new Float64Array(spanCount);
  const lengths = new Uint32Array(spanCount);
  let k = 0;
  for (const p of version.partitions) {
    for (let offset = 0; offset < p.samples; offset += version.span_samples) {
      starts[k] = p.first_index + offset;
      lengths[k] = Math.min(version.span_samples, p.samples - offset);
      k++;
    }
  }
  return { starts, lengths, samples: version.samples, spanSamples: version.span_samples };
}
