// The value types of the CLI's flags, as zod schemas over the strings commander hands over:
// integers, sizes with K/M/G/T suffixes (powers of 1024), rates, and stream offsets.
import { z } from "zod";

/** commander's argument parser for a repeatable flag: every value, in order. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const UNITS = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 } as const;
type Unit = keyof typeof UNITS;

function isUnit(u: string): u is Unit {
  return Object.hasOwn(UNITS, u);
}

/** An integer in [min, max] written in decimal digits. */
export function integerText(min: number, max = Number.MAX_SAFE_INTEGER) {
  return z.string().transform((text, ctx) => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? (min === 0 ? "a non-negative integer" : `an integer >= ${min}`) : `an integer in [${min}, ${max}]`;
      ctx.issues.push({ code: "custom", message: `must be ${range}, got ${text}`, input: text });
      return z.NEVER;
    }
    return n;
  });
}

/** Bytes: `65536`, `64K`, `500M`, `8G`, `1T`, with an optional `B` or `iB`. */
export function parseSize(text: string): number | null {
  const m = /^(\d+)([KMGT]?)(?:i?B)?$/i.exec(text);
  const unit = m?.[2]?.toUpperCase() ?? "";
  if (!m || !isUnit(unit)) return null;
  const n = Number(m[1]) * UNITS[unit];
  return Number.isSafeInteger(n) ? n : null;
}

export const sizeText = z.string().transform((text, ctx) => {
  const n = parseSize(text);
  if (n === null) {
    ctx.issues.push({ code: "custom", message: `must be a size like 65536, 64K, 500M or 8G, got ${text}`, input: text });
    return z.NEVER;
  }
  return n;
});

/** Bytes per second: a size with an optional `/s` (`10MB/s`, `500K`). */
export const rateText = z.string().transform((text, ctx) => {
  const n = parseSize(text.replace(/\/s$/i, ""));
  if (n === null) {
    ctx.issues.push({ code: "custom", message: `must be a rate like 10MB/s or 500K, got ${text}`, input: text });
    return z.NEVER;
  }
  return n;
});

const SECONDS_PER = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

function isDurationUnit(u: string): u is keyof typeof SECONDS_PER {
  return Object.hasOwn(SECONDS_PER, u);
}

/** Whole seconds: `90`, `90s`, `30m`, `24h`, `7d`. */
export const secondsText = z.string().transform((text, ctx) => {
  const m = /^(\d+)([smhd]?)$/.exec(text);
  const unit = m?.[2] || "s";
  const n = m && isDurationUnit(unit) ? Number(m[1]) * SECONDS_PER[unit] : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    ctx.issues.push({ code: "custom", message: `must be a positive duration like 90s, 30m, 24h or 7d, got ${text}`, input: text });
    return z.NEVER;
  }
  return n;
});
