// The systems the cluster bench compares, all on one radosgw: a single gateway out of cluster mode
// (the peer: its own WAL and embedded libSQL file, segments to radosgw) and dev clusters of N
// `strata serve --cluster` gateways (cli/dev/dev-cluster.ts: a fresh libSQL server each, the
// shared radosgw under a prefix of their own). Each answers its gateways' URLs and pids.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { startDevCluster, type DevCluster } from "../../cli/dev/dev-cluster.ts";
import type { S3TestStore } from "../../test/helpers/ceph.ts";
import { removeDir, startGateway, tempDir, type GatewayProcess } from "../../test/helpers/gateway.ts";

export interface System {
  readonly label: string;
  urls(): string[];
  pids(): number[];
  stop(): Promise<void>;
}

function prefix(what: string): string {
  return `bench-${what}-${Date.now().toString(36)}-${Math.random().toString(16).slice(2, 8)}`;
}

/** One `strata serve` (not clustered) with its segments on radosgw. */
export async function startSingleGateway(s3: S3TestStore): Promise<System & { readonly gateway: GatewayProcess }> {
  const gateway = await startGateway({
    args: ["--s3-endpoint", s3.endpoint, "--s3-bucket", s3.bucket, "--s3-prefix", prefix("single"), "--s3-region", s3.region],
    env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, STRATA_LOG_LEVEL: "warning" },
    timeoutMs: 60_000,
  });
  return {
    label: "single gateway",
    gateway,
    urls: () => [gateway.url],
    pids: () => (gateway.child.pid === undefined ? [] : [gateway.child.pid]),
    stop: async () => {
      await gateway.stop();
      removeDir(gateway.dataDir);
    },
  };
}

export interface ClusterTimings {
  readonly leaseMs: number;
  readonly renewMs: number;
  readonly rebalanceMs: number;
}

/** A dev cluster of `gateways` processes with its own libSQL server. */
export async function startCluster(s3: S3TestStore, gateways: number, timings: ClusterTimings): Promise<System & { readonly dev: DevCluster }> {
  const dir = tempDir("strata-bench-cluster-");
  const configFile = join(dir, "cluster-config.json");
  writeFileSync(configFile, JSON.stringify({ cluster: timings }));
  const dev = await startDevCluster({
    gateways,
    dir,
    configFile,
    gatewayLogs: true,
    s3: { endpoint: s3.endpoint, bucket: s3.bucket, prefix: prefix(`cluster${gateways}`), region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  const running = () => dev.gateways.filter((g) => g.state === "running");
  return {
    label: `cluster of ${gateways}`,
    dev,
    urls: () => running().map((g) => g.url),
    pids: () => running().flatMap((g) => g.pid() ?? []),
    stop: async () => {
      await dev.close();
      removeDir(dir);
    },
  };
}

export async function createStream(url: string, name: string, partitions: number): Promise<void> {
  const response = await fetch(`${url}/v1/streams`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, partitions }),
  });
  if (response.status !== 201) throw new Error(`create ${name} on ${url}: ${response.status} ${await response.text()}`);
}

const streamInfo = z.object({
  partitions: z.array(
    z.object({
      partition: z.number().int(),
      leader: z.object({ node: z.string(), url: z.string().nullable() }).nullable().optional(),
    }),
  ),
});

/** Each partition's leader node as `via` sees it (GET /v1/streams/{name}); null while none. */
export async function leadersOf(via: string, stream: string): Promise<Array<string | null>> {
  const response = await fetch(`${via}/v1/streams/${encodeURIComponent(stream)}`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET stream ${stream} on ${via}: ${response.status} ${await response.text()}`);
  const info = streamInfo.parse(await response.json());
  return info.partitions.sort((a, b) => a.partition - b.partition).map((p) => p.leader?.node ?? null);
}
