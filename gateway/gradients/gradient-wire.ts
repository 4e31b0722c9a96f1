// The wire contract of gradient contributions and their means (docs/gradients.md): zod schemas
// and types shared by the gateway's route and the client library's aggregator, which may import
// only core and `*-wire.ts` modules.
import { z } from "zod";
import type { Tensor } from "../../core/log/record.ts";

/** The dtypes a gradient tensor may have (any case on the wire, compared upper-case). */
export const GRADIENT_DTYPES = ["F32", "F16", "BF16"] as const;
export type GradientDtype = (typeof GRADIENT_DTYPES)[number];

/** The dtype's canonical name, or undefined when it is not a gradient dtype. */
export function gradientDtype(dtype: string): GradientDtype | undefined {
  const upper = dtype.toUpperCase();
  return GRADIENT_DTYPES.find((d) => d === upper);
}

/** The stream the aggregator publishes a gradient stream's means to. */
export function meanStreamOf(stream: string): string {
  return `${stream}.mean`;
}

/**
 * `POST /v1/gradients/{stream}/steps/{step}`. Tensors are the log's Tensor values: the `$tensor`
 * JSON form, or the Tensor extension in MessagePack; the service checks each one.
 */
export const contributionBodySchema = z.object({
  rank: z.number({ message: "rank must be an integer" }).int({ message: "rank must be an integer" }).nonnegative({ message: "rank must be at least 0" }),
  world_size: z.number({ message: "world_size must be an integer" }).int({ message: "world_size must be an integer" }).min(1, { message: "world_size must be at least 1" }),
  // Kept as decoded (a zod record would silently drop a key named __proto__; the service refuses it).
  tensors: z.custom<Readonly<Record<string, unknown>>>((v) => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array), { message: "tensors must be a map of names to tensors" }),
});

export type ContributionBody = z.input<typeof contributionBodySchema>;

/** The answer to an accepted (or repeated) contribution: where its record is. */
export const contributionAnswerSchema = z.object({
  stream: z.string(),
  step: z.number().int().nonnegative(),
  rank: z.number().int().nonnegative(),
  partition: z.number().int().nonnegative(),
  offset: z.number().int().nonnegative(),
});

export type ContributionAnswer = z.output<typeof contributionAnswerSchema>;

const tensorValue = z.custom<Tensor>((v) => typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "tensor", { message: "expected a tensor" });

/** The fields of a contribution record as the gateway appends it (key `"{step}"`), decoded from MessagePack. */
export const contributionRecordSchema = z.object({
  step: z.number().int().nonnegative(),
  rank: z.number().int().nonnegative(),
  world_size: z.number().int().min(1),
  tensors: z.record(z.string(), tensorValue),
});

export type ContributionRecord = z.output<typeof contributionRecordSchema>;

/** The fields of a mean record the aggregator publishes to `{stream}.mean` (key `"{step}"`). */
export const meanRecordSchema = z.object({
  step: z.number().int().nonnegative(),
  world_size: z.number().int().min(1),
  contributors: z.array(z.number().int().nonnegative()),
  tensors: z.record(z.string(), tensorValue),
});

export type MeanRecord = z.output<typeof meanRecordSchema>;

/** Headers of a mean record: the contributing ranks ascending and comma-separated, the quorum and world size as decimal strings. */
export interface MeanHeaders {
  readonly contributors: string;
  readonly quorum: string;
  readonly world_size: string;
  readonly [name: string]: string;
}
