// A real cluster for the cluster-mode tests: the shared radosgw of the test run (startS3, under a
// prefix of this cluster's own), a fresh libSQL server and N `strata serve --cluster` processes on
// fixed loopback ports (the launcher `strata cluster dev` uses, cli/dev/dev-cluster.ts), with
// short lease timings. Gateways can be killed (SIGKILL), stopped cleanly, paused (SIGSTOP),
// resumed and restarted; the tests wait for conditions on GET /v1/cluster, never for fixed times.
import { afterAll, beforeAll } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { ClusterGateway } from "../../cli/dev/cluster-gateway.ts";
import { startDevCluster, type DevCluster } from "../../cli/dev/dev-cluster.ts";
import { partitionForKey } from "../../core/log/partitioner.ts";
import { rendezvousOwner } from "../../gateway/cluster/rendezvous.ts";
import { clusterStatusSchema, type ClusterLease, type ClusterStatus } from "../../gateway/cluster/cluster-wire.ts";
import { startS3, type S3TestStore } from "./ceph.ts";
import { removeDir, tempDir } from "./gateway.ts";

/** Lease timings that keep the suite fast: a dead leader's partitions move within ~3 s; a forward to a frozen leader gives up after 5 s. */
export const FAST_CLUSTER = { leaseMs: 3_000, renewMs: 500, rebalanceMs: 250, forwardTimeoutMs: 5_000 } as const;

export interface TestClusterOptions {
  readonly gateways: number;
  /** Overrides of the cluster limits (default FAST_CLUSTER). */
  readonly cluster?: Partial<Record<keyof typeof FAST_CLUSTER, number>>;
  /** Any other part of the gateway configuration, merged into the --config file. */
  readonly config?: Record<string, unknown>;
}

export interface TestCluster {
  readonly gateways: readonly ClusterGateway[];
  readonly dev: DevCluster;
  /** The gateways whose process runs (not killed, stopped or paused). */
  running(): ClusterGateway[];
  gateway(node: string): ClusterGateway;
  /** GET /v1/cluster through `via` (default: the first running gateway). */
  status(via?: ClusterGateway): Promise<ClusterStatus>;
  /** Creates a stream through a running gateway. */
  createStream(name: string, partitions: number): Promise<void>;
  /**
   * Waits until every partition of `stream` is held by a live gateway whose process runs (and,
   * with `exclude`, by none of those nodes), as seen through a running gateway; answers the leases.
   */
  waitForLeaders(stream: string, partitions: number, options?: { exclude?: readonly string[]; timeoutMs?: number }): Promise<ClusterLease[]>;
  /** Waits until every partition is led by its rendezvous owner among the running gateways (rebalancing done). */
  waitForBalance(stream: string, partitions: number, timeoutMs?: number): Promise<ClusterLease[]>;
  stop(): Promise<void>;
}

const STATUS_TIMEOUT_MS = 3_000;

/** Polls `check` until it answers a value (not undefined), or fails after `timeoutMs` with the last problem. */
export async function waitUntil<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000, pollMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = "never checked";
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
      last = "not yet";
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export async function startTestCluster(options: TestClusterOptions): Promise<TestCluster> {
  const s3: S3TestStore = await startS3();
  const dir = tempDir("strata-cluster-");
  const configFile = join(dir, "cluster-config.json");
  writeFileSync(configFile, JSON.stringify({ ...options.config, cluster: { ...FAST_CLUSTER, ...options.cluster } }));
  let dev: DevCluster;
  try {
    dev = await startDevCluster({
      gateways: options.gateways,
      dir,
      configFile,
      s3: {
        endpoint: s3.endpoint,
        bucket: s3.bucket,
        prefix: `cluster-${Date.now().toString(36)}-${Math.random().toString(16).slice(2, 8)}`,
        region: s3.region,
        accessKeyId: s3.accessKeyId,
        secretAccessKey: s3.secretAccessKey,
      },
    });
  } catch (e) {
    await s3.stop();
    removeDir(dir);
    throw e;
  }
  const gateways = dev.gateways;
  const running = (): ClusterGateway[] => gateways.filter((g) => g.state === "running");
  const firstRunning = (): ClusterGateway => {
    const g = running()[0];
    if (!g) throw new Error("no gateway of the cluster is running");
    return g;
  };

  const status = async (via: ClusterGateway = firstRunning()): Promise<ClusterStatus> => {
    const response = await fetch(`${via.url}/v1/cluster`, { signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`GET /v1/cluster on ${via.node}: ${response.status} ${await response.text()}`);
    return clusterStatusSchema.parse(await response.json());
  };

  return {
    gateways,
    dev,
    running,
    gateway: (node) => {
      const g = gateways.find((x) => x.node === node);
      if (!g) throw new Error(`no gateway ${node} in this cluster`);
      return g;
    },
    status,
    createStream: async (name, partitions) => {
      const response = await fetch(`${firstRunning().url}/v1/streams`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name, partitions }),
      });
      if (response.status !== 201) throw new Error(`create ${name}: ${response.status} ${await response.text()}`);
    },
    waitForLeaders: (stream, partitions, opts = {}) =>
      waitUntil(
        `a running leader for each of ${partitions} partitions of ${stream}${opts.exclude ? ` other than ${opts.exclude.join(", ")}` : ""}`,
        async () => {
          const up = new Set(running().map((g) => g.node));
          const seen = await status();
          const live = new Set(seen.gateways.filter((g) => g.live && up.has(g.node)).map((g) => g.node));
          const leases = seen.leases.filter((l) => l.stream === stream && l.holder !== null && l.expires_in_ms > 0 && live.has(l.holder) && !opts.exclude?.includes(l.holder));
          const held = new Set(leases.map((l) => l.partition));
          return held.size === partitions ? leases.sort((a, b) => a.partition - b.partition) : undefined;
        },
        opts.timeoutMs ?? 30_000,
      ),
    waitForBalance: (stream, partitions, timeoutMs = 30_000) =>
      waitUntil(
        `every partition of ${stream} led by its rendezvous owner`,
        async () => {
          const nodes = running().map((g) => g.node);
          const leases = (await status()).leases.filter((l) => l.stream === stream && l.expires_in_ms > 0);
          const settled = leases.length === partitions && leases.every((l) => l.holder === rendezvousOwner(nodes, stream, l.partition));
          return settled ? leases.sort((a, b) => a.partition - b.partition) : undefined;
        },
        timeoutMs,
      ),
    stop: async () => {
      await dev.close();
      await s3.stop();
      removeDir(dir);
    },
  };
}

// ---- reading a stream back through one gateway ----

const readAnswer = z.object({
  records: z.array(z.object({ offset: z.number(), fields: z.record(z.string(), z.unknown()).nullable() })),
  next_offset: z.number(),
  end_offset: z.number(),
});

export interface ReadBack {
  readonly offset: number;
  readonly fields: Record<string, unknown> | null;
}

/** Every record of one partition from offset 0 to its end, read through `via` (leader reads are proxied). */
export async function readPartition(via: ClusterGateway, stream: string, partition: number): Promise<ReadBack[]> {
  const out: ReadBack[] = [];
  let offset = 0;
  for (;;) {
    const response = await fetch(`${via.url}/v1/streams/${encodeURIComponent(stream)}/partitions/${partition}/records?offset=${offset}&max_records=1000`, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`read ${stream}/${partition}@${offset} via ${via.node}: ${response.status} ${await response.text()}`);
    const answer = readAnswer.parse(await response.json());
    out.push(...answer.records);
    if (answer.next_offset >= answer.end_offset) return out;
    if (answer.next_offset <= offset) throw new Error(`read ${stream}/${partition}@${offset} via ${via.node} did not advance (end ${answer.end_offset})`);
    offset = answer.next_offset;
  }
}

// ---- single publishes, for probes ----

const publishOk = z.object({ records: z.array(z.object({ partition: z.number().int(), offset: z.number().int() })) });
const errorAnswer = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

export type PublishOutcome =
  | { readonly kind: "acknowledged"; readonly positions: ReadonlyArray<{ partition: number; offset: number }> }
  | { readonly kind: "refused"; readonly status: number; readonly code: string; readonly message: string }
  | { readonly kind: "no-answer"; readonly reason: string };

/** One JSON publish to one gateway, answered as what happened (never throws). */
export async function publishTo(
  via: ClusterGateway,
  stream: string,
  records: ReadonlyArray<{ key: string; fields: Record<string, unknown> }>,
  timeoutMs = 30_000,
): Promise<PublishOutcome> {
  try {
    const response = await fetch(`${via.url}/v1/streams/${encodeURIComponent(stream)}/records`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ records }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    if (response.status === 200) return { kind: "acknowledged", positions: publishOk.parse(JSON.parse(text)).records };
    const parsed = errorAnswer.safeParse(JSON.parse(text));
    return parsed.success
      ? { kind: "refused", status: response.status, code: parsed.data.error.code, message: parsed.data.error.message }
      : { kind: "refused", status: response.status, code: "", message: text.slice(0, 500) };
  } catch (e) {
    return { kind: "no-answer", reason: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

/** A key (`prefix-N`) that the stream's partitioner sends to `partition`. */
export function keyFor(partition: number, partitions: number, prefix: string): string {
  for (let n = 0; ; n++) {
    const key = `${prefix}-${n}`;
    if (partitionForKey(new TextEncoder().encode(key), partitions) === partition) return key;
  }
}

/**
 * One cluster for a test file: started (with `stream` created and led) before its tests, stopped
 * after them. The returned function answers it inside the tests.
 */
export function clusterPerFile(options: TestClusterOptions & { stream: string; partitions: number }): () => TestCluster {
  let cluster: TestCluster | undefined;
  beforeAll(async () => {
    cluster = await startTestCluster(options);
    await cluster.createStream(options.stream, options.partitions);
    await cluster.waitForLeaders(options.stream, options.partitions);
  }, 180_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);
  return () => {
    if (!cluster) throw new Error("the cluster did not start");
    return cluster;
  };
}
