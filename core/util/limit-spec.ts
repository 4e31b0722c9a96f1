// A family of numeric limits declared once: each limit's default, unit, allowed range and meaning.
// The declaration validates overrides (a zod schema: unknown keys and out-of-range values are
// refused with the key, the value and the range), fills in the defaults, and renders the
// documentation table, so every limit has one home. Cross-checks between limits stay with the
// family's owner, after resolve().
import { z } from "zod";
import { StrataError } from "../errors.ts";

export type LimitUnit = "bytes" | "ms" | "count" | "fraction";

export interface LimitSpec {
  readonly default: number;
  readonly unit: LimitUnit;
  /** Smallest allowed value (inclusive). */
  readonly min: number;
  /** Largest allowed value (inclusive). */
  readonly max: number;
  /** What the limit bounds, one sentence. */
  readonly doc: string;
}

export type LimitSpecs = { readonly [key: string]: LimitSpec };
export type LimitValues<S extends LimitSpecs> = { readonly [K in keyof S]: number };

export interface LimitFamily<S extends LimitSpecs> {
  /** Where the family sits in a configuration (`limits`, `storage`, ...), used in messages. */
  readonly name: string;
  readonly specs: S;
  readonly defaults: LimitValues<S>;
  /** Validates a partial override: known keys only, each within its range. */
  readonly schema: z.ZodType<Partial<LimitValues<S>>, Partial<LimitValues<S>>>;
  /** Defaults overlaid with the overrides; throws BAD_REQUEST naming the key, value and range. */
  resolve(overrides?: Partial<LimitValues<S>>): LimitValues<S>;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

export function defineLimits<S extends LimitSpecs>(name: string, specs: S): LimitFamily<S> {
  for (const [key, spec] of Object.entries(specs)) {
    const integral = spec.unit !== "fraction";
    if (!(spec.min <= spec.default && spec.default <= spec.max) || (integral && ![spec.min, spec.max, spec.default].every(Number.isSafeInteger))) {
      throw new StrataError("INTERNAL", `limit ${name}.${key}: default ${spec.default} is outside [${spec.min}, ${spec.max}]`);
    }
  }
  const shape = Object.fromEntries(Object.entries(specs).map(([key, spec]) => [key, valueSchema(spec).optional()]));
  const schema = z.strictObject(shape);
  const defaults = Object.freeze(Object.fromEntries(Object.entries(specs).map(([key, spec]) => [key, spec.default])));
  const family: LimitFamily<S> = {
    name,
    specs,
    defaults: defaults as LimitValues<S>,
    schema: schema as z.ZodType<Partial<LimitValues<S>>, Partial<LimitValues<S>>>,
    resolve(overrides = {}) {
      const parsed = schema.safeParse(overrides);
      if (!parsed.success) throw new StrataError("BAD_REQUEST", describeIssues(parsed.error.issues, name, specs, overrides));
      const given = Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined));
      return Object.freeze({ ...defaults, ...given }) as LimitValues<S>;
    },
  };
  return family;
}

function valueSchema(spec: LimitSpec): z.ZodNumber {
  const number = spec.unit === "fraction" ? z.number() : z.number().int();
  return number.min(spec.min).max(spec.max);
}

/**
 * One line per problem, e.g. `limits.maxRequestBytes = 0 is out of range: an integer number of
 * bytes in [1 KiB, 1 GiB]`. `prefix` is the path of the family in the configuration.
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], prefix: string, specs: LimitSpecs, input: unknown): string {
  return issues
    .map((issue) => {
      if (issue.code === "unrecognized_keys") return issue.keys.map((k) => `${prefix}.${k} is not a known limit`).join("; ");
      const key = issue.path[0];
      const spec = typeof key === "string" ? specs[key] : undefined;
      if (spec === undefined || typeof key !== "string") return `${prefix}: ${issue.message}`;
      const value = typeof input === "object" && input !== null ? (input as Record<string, unknown>)[key] : undefined;
      return `${prefix}.${key} = ${JSON.stringify(value) ?? String(value)} is out of range: ${describeRange(spec)}`;
    })
    .join("; ");
}

/** `an integer number of bytes in [1 KiB, 1 GiB]` */
export function describeRange(spec: LimitSpec): string {
  const what = spec.unit === "fraction" ? "a number" : `an integer ${unitNoun(spec.unit)}`;
  return `${what} in [${formatLimit(spec.min, spec.unit)}, ${formatLimit(spec.max, spec.unit)}]`;
}

/** `1 KiB – 1 GiB` */
export function formatRange(spec: LimitSpec): string {
  return `${formatLimit(spec.min, spec.unit)} – ${formatLimit(spec.max, spec.unit)}`;
}

function unitNoun(unit: Exclude<LimitUnit, "fraction">): string {
  if (unit === "bytes") return "number of bytes";
  if (unit === "ms") return "number of milliseconds";
  return "count";
}

/** A limit as people write it: `64 MiB`, `10 min`, `10,000`, `0.2`. */
export function formatLimit(value: number, unit: LimitUnit): string {
  if (unit === "fraction") return String(value);
  if (unit === "count") return value.toLocaleString("en-US");
  if (value === 0) return unit === "bytes" ? "0" : "0 ms";
  if (unit === "bytes") {
    for (const [size, suffix] of [[TiB, "TiB"], [GiB, "GiB"], [MiB, "MiB"], [KiB, "KiB"]] as const) {
      if (value % size === 0) return `${(value / size).toLocaleString("en-US")} ${suffix}`;
    }
    return `${value.toLocaleString("en-US")} B`;
  }
  for (const [size, suffix] of [[86_400_000, "d"], [3_600_000, "h"], [60_000, "min"], [1000, "s"]] as const) {
    if (value % size === 0) return `${(value / size).toLocaleString("en-US")} ${suffix}`;
  }
  return `${value.toLocaleString("en-US")} ms`;
}
