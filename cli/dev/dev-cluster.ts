// A whole cluster on loopback for `strata cluster dev` and the cluster tests: radosgw (the shared
// object store), the libSQL server (the shared metadata database) and N gateways in cluster mode,
// each with its own data directory under `dir`. The first gateway starts alone (it applies the
// migrations), the others together. close() stops the gateways (clean leaves), then sqld and
// radosgw; every child also has a watchdog on this process.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { ClusterGateway, type SharedStores } from "./cluster-gateway.ts";
import { freePorts } from "./free-ports.ts";
import { startRadosgw, type RadosgwServer } from "./radosgw.ts";
import { startSqld, type SqldServer } from "./sqld.ts";

export interface DevClusterOptions {
  readonly gateways: number;
  /** Holds sqld's data, each gateway's data directory and log, and radosgw's (memstore) daemons. */
  readonly dir: string;
  /** Gateway i listens on basePort + i; default: free ports. */
  readonly basePort?: number;
  /** `strata serve --config FILE` for every gateway. */
  readonly configFile?: string;
  /** A ready object store to use instead of starting radosgw (the tests share one radosgw). */
  readonly s3?: SharedStores["s3"];
  /** Write each gateway's output to DIR/<node>.log. */
  readonly gatewayLogs?: boolean;
  /** Progress for a person watching (what is starting). */
  readonly onProgress?: (message: string) => void;
  /** Called as each gateway starts listening. */
  readonly onGateway?: (gateway: ClusterGateway) => void;
}

export interface DevCluster {
  readonly sqld: SqldServer;
  readonly stores: SharedStores;
  readonly gateways: readonly ClusterGateway[];
  close(): Promise<void>;
}

export const DEV_BUCKET = "strata-dev";
const DEV_ACCESS_KEY = "strata-dev";
const DEV_SECRET_KEY = "strata-dev-secret";

export function nodeName(index: number): string {
  return `gw-${index + 1}`;
}

export async function startDevCluster(options: DevClusterOptions): Promise<DevCluster> {
  await mkdir(options.dir, { recursive: true });
  let radosgw: RadosgwServer | undefined;
  let sqld: SqldServer | undefined;
  const gateways: ClusterGateway[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(gateways.map((g) => g.close()));
    await sqld?.kill();
    await radosgw?.shutdown();
  };
  try {
    let s3 = options.s3;
    if (s3 === undefined) {
      options.onProgress?.("starting radosgw (Ceph) on loopback");
      radosgw = await startRadosgw({
        accessKeyId: DEV_ACCESS_KEY,
        secretAccessKey: DEV_SECRET_KEY,
        dir: join(options.dir, "radosgw"),
        onInstall: (packages) => options.onProgress?.(`installing Ceph with apt-get (${packages.join(" ")}); this takes a few minutes once`),
      });
      s3 = { endpoint: radosgw.endpoint, bucket: DEV_BUCKET, prefix: "", region: radosgw.region, accessKeyId: radosgw.accessKeyId, secretAccessKey: radosgw.secretAccessKey };
    }
    options.onProgress?.("starting the libSQL server (sqld)");
    sqld = await startSqld({ dir: join(options.dir, "sqld") });
    const stores: SharedStores = { dbUrl: sqld.url, s3 };
    const ports = options.basePort === undefined ? await freePorts(options.gateways) : Array.from({ length: options.gateways }, (_, i) => options.basePort! + i);
    for (let i = 0; i < options.gateways; i++) {
      const node = nodeName(i);
      const dataDir = join(options.dir, node);
      await mkdir(dataDir, { recursive: true });
      gateways.push(
        new ClusterGateway({
          node,
          port: ports[i]!,
          dataDir,
          stores,
          ...(options.configFile === undefined ? {} : { configFile: options.configFile }),
          ...(options.gatewayLogs ? { logFile: join(options.dir, `${node}.log`) } : {}),
        }),
      );
    }
    options.onProgress?.(`starting ${options.gateways} gateway${options.gateways === 1 ? "" : "s"}`);
    const startOne = async (g: ClusterGateway): Promise<void> => {
      await g.start();
      options.onGateway?.(g);
    };
    const [first, ...rest] = gateways;
    if (first) await startOne(first);
    await Promise.all(rest.map(startOne));
    return { sqld, stores, gateways, close };
  } catch (e) {
    await close();
    throw e;
  }
}
