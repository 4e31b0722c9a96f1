// What a `strata serve` child process writes on stdout and stderr from now on, one line at a
// time, and the access records among its JSON Lines (docs/logging.md), for the logs tests.
import type { ChildProcess } from "node:child_process";
import { z } from "zod";

export const accessRecordSchema = z.object({
  "@timestamp": z.string(),
  level: z.literal("INFO"),
  logger: z.literal("strata.access"),
  message: z.string(),
  properties: z.strictObject({
    transport: z.enum(["http", "quic"]),
    method: z.string(),
    route: z.string(),
    status: z.number().int(),
    code: z.string().optional(),
    duration_ms: z.number().nonnegative(),
    bytes_in: z.number().int().nonnegative(),
    bytes_out: z.number().int().nonnegative(),
    subject: z.string().optional(),
  }),
});
export type AccessRecord = z.infer<typeof accessRecordSchema>;

export const jsonRecordSchema = z.looseObject({ level: z.string(), logger: z.string(), message: z.string(), properties: z.record(z.string(), z.unknown()) });

export interface ProcessLines {
  stdout(): string[];
  stderr(): string[];
}

/** Collects the complete lines the process prints on each stream from now on. */
export function collectLines(child: ChildProcess): ProcessLines {
  const out = { stdout: "", stderr: "" };
  child.stdout!.on("data", (d: Buffer) => (out.stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out.stderr += d.toString()));
  const lines = (text: string) => text.split("\n").slice(0, -1);
  return { stdout: () => lines(out.stdout), stderr: () => lines(out.stderr) };
}

/** The stderr lines that are JSON access records (other lines fail the parse and are left out). */
export function accessRecords(lines: ProcessLines): AccessRecord[] {
  const records: AccessRecord[] = [];
  for (const line of lines.stderr()) {
    if (!line.startsWith("{")) continue;
    const parsed = accessRecordSchema.safeParse(JSON.parse(line));
    if (parsed.success) records.push(parsed.data);
  }
  return records;
}

/** Polls `find` until it returns something (the gateway writes its log asynchronously to the answer). */
export async function eventually<T>(find: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
