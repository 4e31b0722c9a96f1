// Numeric flags of the artefact commands: sizes with K/M/G/T suffixes (powers of 1024) and positive integers.
import { UsageError } from "./command.ts";

const UNITS = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 } as const;

/** `500M`, `8G`, `65536` (bytes); `fallback` when the flag is absent. */
export function sizeFlag(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const m = /^(\d+)([KMGT]?)(?:i?B)?$/i.exec(text);
  if (!m) throw new UsageError(`--${name} must be a size like 500M or 8G, got ${text}`);
  const n = Number(m[1]) * UNITS[m[2]!.toUpperCase() as keyof typeof UNITS];
  if (!Number.isSafeInteger(n)) throw new UsageError(`--${name} ${text} is too large`);
  return n;
}

export function positiveIntFlag(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got ${text}`);
  return n;
}
