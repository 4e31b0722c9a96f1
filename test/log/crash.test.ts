// kill -9 during an append load: every batch acknowledged (acks=local) before the kill is there
// after restart, exactly once, in order; producers' retries (acknowledged or not) add no duplicates.
import { afterEach, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CRASH_LIMITS, CRASH_STREAM, PER_BATCH, WRITERS, writerBatch } from "./crash-writer.ts";
import { makeFixture, type Fixture } from "./log-fixture.ts";

const WRITER = fileURLToPath(new URL("./crash-writer.ts", import.meta.url));
let fx: Fixture | undefined;
afterEach(async () => {
  await fx?.cleanup();
});

interface Ack {
  w: number;
  seq: number;
  baseOffset: number;
}

/** Runs the writer until `acks` batches are acknowledged, then SIGKILLs it; returns what it printed. */
function runAndKill(dir: string, acks: number): Promise<Ack[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir], { stdio: ["ignore", "pipe", "pipe"] });
    const seen: Ack[] = [];
    let buffer = "";
    let stderr = "";
    let killed = false;
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      buffer += d.toString();
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith("{")) seen.push(JSON.parse(line) as Ack);
      }
      if (!killed && seen.length >= acks) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL") resolve(seen);
      else reject(new Error(`writer exited with ${code}: ${stderr}`));
    });
  });
}

test("records acknowledged before SIGKILL survive once and in order; producer retries add no duplicates", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-crash-"));
  let acked: Ack[] = [];
  // Two rounds: the second kill lands on a log that was itself recovered from a kill.
  for (const target of [400, 800]) acked = acked.concat(await runAndKill(dir, target).then((a) => a.map((x) => ({ ...x }))));
  fx = await makeFixture({ dir });
  const store = await fx.open(CRASH_LIMITS);
  const log = store.partition(CRASH_STREAM, 0);

  const seen = new Map<string, number>(); // "w/k" → offset
  const lastK = new Map<number, number>();
  let offset = 0;
  while (offset < log.endOffset) {
    for (const r of await log.read(offset, { maxRecords: 5000, maxBytes: 4 << 20 })) {
      expect(r.offset).toBe(offset++);
      const w = r.fields?.["w"] as number;
      const k = r.fields?.["k"] as number;
      const id = `${w}/${k}`;
      expect(seen.has(id)).toBe(false); // once
      seen.set(id, r.offset);
      expect(k).toBeGreaterThan(lastK.get(w) ?? -1); // in order per writer
      lastK.set(w, k);
    }
  }
  // The second run resent each producer's last batches: answered with the original offsets.
  const bySeq = new Map<string, number>();
  let retried = 0;
  for (const a of acked) {
    const key = `${a.w}/${a.seq}`;
    if (bySeq.has(key)) {
      expect(a.baseOffset).toBe(bySeq.get(key)!); // a retry answered with the original offsets
      retried++;
    }
    bySeq.set(key, a.baseOffset);
    for (let j = 0; j < PER_BATCH; j++) expect(seen.get(`${a.w}/${a.seq * PER_BATCH + j}`)).toBe(a.baseOffset + j);
  }
  // Retry each writer's next batch (maybe written before the kill, maybe not) twice: it ends up there exactly once.
  for (let w = 0; w < WRITERS; w++) {
    const next = (lastK.get(w)! + 1) / PER_BATCH;
    const first = await log.append(writerBatch(w, next), { firstTimestamp: 1, maxTimestamp: 1, producer: { id: w + 1, epoch: 0, seq: next } }, "local");
    const again = await log.append(writerBatch(w, next), { firstTimestamp: 1, maxTimestamp: 1, producer: { id: w + 1, epoch: 0, seq: next } }, "local");
    expect(again).toEqual({ baseOffset: first.baseOffset, duplicate: true });
  }
  expect(acked.length).toBeGreaterThanOrEqual(1200);
  expect(retried).toBeGreaterThanOrEqual(WRITERS);
}, 120_000);
