// An idempotent publish load through every gateway of a test cluster: producers with their own
// producer id send keyed records (spread over all partitions) with consecutive sequences; a
// request that fails (503 while a partition moves, a refused connection, a timeout against a
// paused gateway) is sent again, same sequence, to the next gateway until one acknowledges it.
// What was acknowledged is kept, to be compared with what a read of every partition finds.
import { expect } from "bun:test";
import { z } from "zod";
import type { ClusterGateway } from "../../cli/dev/cluster-gateway.ts";
import { readPartition } from "./cluster.ts";

export interface LoadOptions {
  readonly stream: string;
  readonly producers: number;
  /** Records per request (each keyed, so one request usually spans partitions). */
  readonly recordsPerRequest: number;
  /** Gateways to send to, as a function so restarts and kills are seen (default rotation order). */
  readonly targets: () => readonly ClusterGateway[];
  /** Longest wait for one attempt's answer (a paused gateway never answers). */
  readonly attemptTimeoutMs?: number;
  /** Longest a request may go unacknowledged across attempts before the load fails. */
  readonly requestDeadlineMs?: number;
}

export interface LoadFailure {
  readonly producer: number;
  readonly seq: number;
  readonly status: number;
  readonly body: string;
}

export interface LoadReport {
  /** `producer:seq:i` of every acknowledged record, with its position. */
  readonly acked: ReadonlyMap<string, { partition: number; offset: number }>;
  readonly requests: number;
  readonly attempts: number;
  /** Answers by status (and "network" / "timeout"), retried or not. */
  readonly answers: ReadonlyMap<string, number>;
  /** Requests refused for good (any answer but 200 that is not retriable, or no acknowledgement by the deadline). */
  readonly failures: readonly LoadFailure[];
}

export interface RunningLoad {
  /** Acknowledged records so far. */
  acked(): number;
  /** Resolves once at least `count` more records are acknowledged than now. */
  progressed(count: number, timeoutMs?: number): Promise<void>;
  /** Stops sending new requests, finishes (acknowledges) the ones in flight, and reports. */
  stop(): Promise<LoadReport>;
}

const publishAnswer = z.object({ records: z.array(z.object({ partition: z.number().int(), offset: z.number().int() })) });

/**
 * Answers worth sending again to another gateway: the partition moving (503 NOT_LEADER,
 * LEASE_LOST, METADATA_UNAVAILABLE, UNAVAILABLE), too busy. A 500 is a bug: a failure, not a retry.
 */
function retriable(status: number): boolean {
  return status === 503 || status === 429 || status === 408 || status === 502 || status === 504;
}

export function startLoad(options: LoadOptions): RunningLoad {
  const acked = new Map<string, { partition: number; offset: number }>();
  const answers = new Map<string, number>();
  const failures: LoadFailure[] = [];
  let requests = 0;
  let attempts = 0;
  let stopping = false;
  const listeners = new Set<() => void>();
  const count = (what: string): void => void answers.set(what, (answers.get(what) ?? 0) + 1);
  // Producer ids unique per load, so loads of several tests on one stream never meet.
  const idBase = Math.floor(Math.random() * 1e9) * 1000;

  const attempt = async (target: ClusterGateway, body: string): Promise<{ status: number; text: string } | "network" | "timeout"> => {
    attempts++;
    try {
      const response = await fetch(`${target.url}/v1/streams/${encodeURIComponent(options.stream)}/records`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal: AbortSignal.timeout(options.attemptTimeoutMs ?? 5_000),
      });
      return { status: response.status, text: await response.text() };
    } catch (e) {
      return e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError") ? "timeout" : "network";
    }
  };

  const producer = async (index: number): Promise<void> => {
    const id = idBase + index;
    let turn = index;
    for (let seq = 0; !stopping; seq++) {
      requests++;
      const records = Array.from({ length: options.recordsPerRequest }, (_, i) => ({ key: `k-${id}-${seq}-${i}`, fields: { p: id, s: seq, i } }));
      const body = JSON.stringify({ records, producer: { id, epoch: 0, seq } });
      const deadline = Date.now() + (options.requestDeadlineMs ?? 60_000);
      for (;;) {
        const targets = options.targets();
        const target = targets[turn % Math.max(1, targets.length)];
        const answer = target === undefined ? "network" : await attempt(target, body);
        if (typeof answer === "string") count(answer);
        else count(String(answer.status));
        if (typeof answer !== "string" && answer.status === 200) {
          const positions = publishAnswer.parse(JSON.parse(answer.text)).records;
          positions.forEach((position, i) => acked.set(`${id}:${seq}:${i}`, position));
          for (const wake of listeners) wake();
          break;
        }
        if (typeof answer !== "string" && !retriable(answer.status)) {
          failures.push({ producer: id, seq, status: answer.status, body: answer.text.slice(0, 500) });
          return;
        }
        if (Date.now() > deadline) {
          failures.push({ producer: id, seq, status: typeof answer === "string" ? 0 : answer.status, body: `not acknowledged within the request deadline (last: ${typeof answer === "string" ? answer : answer.text.slice(0, 300)})` });
          return;
        }
        turn++;
        // A short pause before the next gateway, so a cluster in failover is not hammered.
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };

  const running = Promise.all(Array.from({ length: options.producers }, (_, i) => producer(i)));
  return {
    acked: () => acked.size,
    progressed: (more, timeoutMs = 30_000) => {
      const target = acked.size + more;
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (acked.size >= target) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve();
          } else if (failures.length > 0) {
            listeners.delete(check);
            clearTimeout(timer);
            reject(new Error(`the load failed: ${JSON.stringify(failures[0])}`));
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`the load acknowledged ${acked.size} records, not ${target}, within ${timeoutMs} ms (answers ${JSON.stringify([...answers])}, failures ${JSON.stringify(failures.slice(0, 3))})`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
    stop: async () => {
      stopping = true;
      await running;
      return { acked, requests, attempts, answers, failures };
    },
  };
}

export interface Verdict {
  /** Acknowledged records not found in the stream. */
  readonly lost: string[];
  /** Records (acknowledged or not) found more than once. */
  readonly duplicated: string[];
  /** Acknowledged records found at another position than the one acknowledged. */
  readonly moved: string[];
  readonly found: number;
}

/** Reads every partition through `via` and compares with what the load acknowledged. */
export async function verifyLoad(via: ClusterGateway, stream: string, partitions: number, report: LoadReport): Promise<Verdict> {
  const seen = new Map<string, Array<{ partition: number; offset: number }>>();
  let found = 0;
  for (let partition = 0; partition < partitions; partition++) {
    for (const record of await readPartition(via, stream, partition)) {
      const f = record.fields;
      if (f === null || typeof f.p !== "number" || typeof f.s !== "number" || typeof f.i !== "number") continue;
      const key = `${f.p}:${f.s}:${f.i}`;
      found++;
      const list = seen.get(key) ?? [];
      list.push({ partition, offset: record.offset });
      seen.set(key, list);
    }
  }
  const lost: string[] = [];
  const moved: string[] = [];
  for (const [key, position] of report.acked) {
    const at = seen.get(key);
    if (!at) lost.push(key);
    else if (!at.some((p) => p.partition === position.partition && p.offset === position.offset)) moved.push(key);
  }
  const duplicated = [...seen].filter(([, at]) => at.length > 1).map(([key]) => key);
  return { lost, duplicated, moved, found };
}

/**
 * Ends the load and checks it against the stream, read through a running gateway: no request
 * failed for good, and every acknowledged record is there once, where it was acknowledged.
 */
export async function expectIntact(label: string, load: RunningLoad, via: ClusterGateway, stream: string, partitions: number): Promise<LoadReport> {
  const report = await load.stop();
  expect(report.failures).toEqual([]);
  const verdict = await verifyLoad(via, stream, partitions, report);
  console.log(`${label}: ${report.acked.size} records acknowledged in ${report.requests} requests (${report.attempts} attempts; answers ${JSON.stringify(Object.fromEntries(report.answers))}); ${verdict.found} read back through ${via.node}`);
  expect(verdict.lost).toEqual([]);
  expect(verdict.duplicated).toEqual([]);
  expect(verdict.moved).toEqual([]);
  return report;
}
