// One queue record through one run of the user's command: the record's JSON line (the form of
// `strata consume --json`) on its stdin, its stdout passed through to ours, its stderr passed
// through to ours and its last non-empty line kept as the error of a failed run.
import { spawn } from "node:child_process";
import type { ClaimedRecord } from "../gateway/client.ts";
import { recordLine } from "./record-line.ts";

/** How a run ended: exit 0, or the reason to nack with. */
export type RunOutcome = { kind: "succeeded" } | { kind: "failed"; error: string } | { kind: "unstartable"; error: string };

/** Keeps the last non-empty line of a stream of text chunks without holding all of it. */
class LastLine {
  #tail = "";
  #last = "";

  push(chunk: string): void {
    const text = this.#tail + chunk;
    const lines = text.split(/\r?\n/);
    this.#tail = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") this.#last = line;
    // A line longer than the gateway keeps is cut there anyway; bound what is held.
    if (this.#tail.length > 64 * 1024) this.#tail = this.#tail.slice(-64 * 1024);
  }

  value(): string {
    return this.#tail.trim() !== "" ? this.#tail : this.#last;
  }
}

/**
 * Runs `command` with `args` once for `record`. The child also gets STRATA_STREAM, STRATA_PARTITION,
 * STRATA_OFFSET and STRATA_DELIVERIES in its environment.
 */
export function runForRecord(command: string, args: readonly string[], record: ClaimedRecord): Promise<RunOutcome> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      stdio: ["pipe", "inherit", "pipe"],
      env: {
        ...process.env,
        STRATA_STREAM: record.stream,
        STRATA_PARTITION: String(record.partition),
        STRATA_OFFSET: String(record.offset),
        STRATA_DELIVERIES: String(record.deliveries),
      },
    });
    const stderr = new LastLine();
    let spawnError: Error | undefined;
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      stderr.push(chunk);
      process.stderr.write(chunk);
    });
    child.once("error", (e) => (spawnError = e));
    // A command that exits without reading its stdin makes the write fail with EPIPE: not an error of ours.
    child.stdin.on("error", () => undefined);
    child.stdin.end(`${recordLine(record.partition, record, "ms")}\n`);
    child.once("close", (code, signal) => {
      if (spawnError) return resolve({ kind: "unstartable", error: `cannot run ${command}: ${spawnError.message}` });
      if (code === 0) return resolve({ kind: "succeeded" });
      const last = stderr.value();
      resolve({ kind: "failed", error: last !== "" ? last : signal ? `${command} was killed by ${signal}` : `${command} exited with code ${code}` });
    });
  });
}
