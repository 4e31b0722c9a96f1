// The value types of `strata queue` flags: durations in milliseconds and the priority list of streams.
import { z } from "zod";

const MS_PER = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

function isUnit(u: string): u is keyof typeof MS_PER {
  return Object.hasOwn(MS_PER, u);
}

/** Milliseconds from `500ms`, `30s`, `5m`, `1h` (a bare number is seconds). */
export const durationMsText = z.string().transform((text, ctx) => {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(text);
  const unit = m?.[2] ?? "s";
  const n = m && isUnit(unit) ? Number(m[1]) * MS_PER[unit] : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    ctx.issues.push({ code: "custom", message: `must be a positive duration like 500ms, 30s, 5m or 1h, got ${text}`, input: text });
    return z.NEVER;
  }
  return n;
});

/** `tasks/high,tasks/low`: stream names in priority order, none empty, none twice. */
export const streamListText = z.string().transform((text, ctx) => {
  const streams = text.split(",").map((s) => s.trim());
  if (streams.some((s) => s === "") || new Set(streams).size !== streams.length) {
    ctx.issues.push({ code: "custom", message: `must be stream names separated by commas, each once, got ${text}`, input: text });
    return z.NEVER;
  }
  return streams;
});
