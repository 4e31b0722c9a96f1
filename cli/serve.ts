// `strata serve`: runs the gateway (HTTP, and QUIC with --quic-port) until SIGINT or SIGTERM,
// configured by its flags over an optional JSON configuration file (--config).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Command, Option } from "commander";
import { z } from "zod";
import { layerGatewayConfig, readGatewayConfigFile } from "../gateway/config/config-file.ts";
import type { GatewayConfigLayer } from "../gateway/config/gateway-config.ts";
import { openGateway, type GatewayConfig } from "../gateway/gateway.ts";
import { serve } from "../gateway/http/serve.ts";
import { quicUnsupportedReason } from "../runtime/quic/listen.ts";
import { startQuicServer, type QuicServer } from "../gateway/quic/server.ts";
import { startUcxServer, ucxUnavailableReason, type UcxServer } from "../gateway/ucx/ucx-server.ts";
import { ADMIN_TOKEN_FILE } from "../gateway/auth/gateway-auth.ts";
import { protectedModeProblem } from "../gateway/auth/protected-mode.ts";
import { defineAction, UsageError } from "./command.ts";
import { integerText, rateText } from "./option-schemas.ts";

const details = `
By default everything lives under ./data: the WAL and segment cache, the embedded libSQL
metadata file, and the object-store directory. With --s3-bucket, sealed segments go to
S3-compatible storage (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; path-style
addressing). --db-url (or STRATA_DB_URL) selects another libSQL database (STRATA_DB_AUTH_TOKEN
for its token).

--quic-port also serves the QUIC protocol (ALPN strata/1, docs/quic-protocol.md) on that UDP
port (0: any free port) of --host, under Bun, or Deno with --unstable-net; Node serves HTTP only.
Without --tls-cert/--tls-key a self-signed certificate is generated once into DATA/tls (with
the openssl CLI); its file and SHA-256 fingerprint are printed for clients to pin
(--ca FILE or --fingerprint HEX).

--ucx-port also serves chunk and segment ranges over UCX (RDMA, shared memory or TCP;
docs/native.md) on that port of --ucx-host (default --host), for \`strata pull --via
ucx://HOST:PORT\` and the segment reader. Start-up fails when UCX is unavailable here (no built
addon or no libucp).

--tls-cert FILE --tls-key FILE (PEM) serve HTTPS on the HTTP port (under Bun, Deno and Node)
and, with --quic-port, the same certificate on QUIC. Clients trust it with --ca FILE (or
curl --cacert FILE) unless it chains to a CA they already trust.

--auth requires a bearer token (Authorization: Bearer TOKEN, or the QUIC hello's token) on
every route but /healthz: tokens are signed by a key created under DATA/auth and carry scopes
such as publish:sensors/> (docs/auth.md). At first start an administrator token is written to
DATA/admin.token (mode 0600) unless STRATA_ADMIN_TOKEN (at least 32 characters) supplies one;
issue others with \`strata tokens issue\`. Without --auth the gateway only listens on loopback
(127.0.0.1, ::1, localhost): a --host any other machine can reach needs --auth, or --insecure to
serve it open anyway.

--cluster (or STRATA_CLUSTER=1) joins the other gateways that share the libSQL server of
--db-url and the S3 bucket (docs/cluster.md): the gateway registers as --node NAME (default: an
id generated once into DATA/node-id), announces --advertise URL (default: its listening URL),
leads the partitions whose leases it holds and forwards the rest to their leaders. Ctrl-C hands
its partitions over to the others at once.

--cors-origin (repeatable) lets browser pages served from ORIGIN (e.g. http://localhost:8080)
call the HTTP API; without it no cross-origin access is granted.

Every request is logged on stderr (logger strata.access, info level; docs/logging.md) in the
--log-format (text, json or pretty) unless --no-access-log; --no-request-metrics drops the
per-request metrics (docs/metrics.md); --otlp-endpoint URL (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
exports the spans of publish, fetch and ack over OTLP/HTTP (docs/tracing.md).

--config FILE reads a JSON object with any part of the gateway's configuration, e.g.
  {"limits": {"maxRecordBytes": 1048576}, "storage": {"segmentBytes": 134217728},
   "artefacts": {"gcIntervalMs": 0}, "quic": {"maxConnections": 256},
   "s3": {"bucket": "b", "region": "eu-west-1", "forcePathStyle": true},
   "dataDir": "data", "dbUrl": "libsql://...", "corsOrigins": ["http://localhost:8080"]}
(the keys, defaults and allowed ranges of the limits are in README.md, "Limits"). Flags given
on the command line, and STRATA_DB_URL / STRATA_DB_AUTH_TOKEN, win over the file, key by key
(--s3-bucket replaces s3.bucket only); relative paths are taken from the working directory.
An unknown key, a value out of range or a file that is not JSON stops start-up (exit 1) with a
message naming the key, the value and the allowed range.`;

const port = integerText(0, 65535);

const origin = z.string().transform((value, ctx) => {
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.origin !== value.replace(/\/+$/, "")) {
    ctx.issues.push({ code: "custom", message: `must be an origin like http://localhost:8080, got ${value}`, input: value });
    return z.NEVER;
  }
  return url.origin;
});

const serveOpts = z.object({
  data: z.string(),
  host: z.string(),
  port,
  s3Endpoint: z.string().optional(),
  s3Bucket: z.string().optional(),
  s3Prefix: z.string(),
  s3Region: z.string().optional(),
  dbUrl: z.string().optional(),
  quicPort: port.optional(),
  ucxPort: port.optional(),
  ucxHost: z.string().optional(),
  egressLimit: rateText.optional(),
  tlsCert: z.string().optional(),
  tlsKey: z.string().optional(),
  corsOrigin: z.array(origin),
  config: z.string().optional(),
  auth: z.boolean().optional(),
  insecure: z.boolean().optional(),
  cluster: z.boolean().optional(),
  node: z.string().optional(),
  advertise: z.string().url().optional(),
  otlpEndpoint: z.string().url().optional(),
  traceSampleRatio: z.coerce.number().optional(),
  accessLog: z.boolean(),
  requestMetrics: z.boolean(),
});

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function registerServe(program: Command): void {
  const command = program
    .command("serve")
    .summary("run the gateway (HTTP API on 127.0.0.1:7070 by default)")
    .description("Runs the gateway: HTTP API, and QUIC with --quic-port.")
    .option("--data <DIR>", "data directory", "data")
    .option("--host <HOST>", "address to listen on", "127.0.0.1")
    .option("--port <N>", "HTTP port (0: any free port)", "7070")
    .option("--s3-endpoint <URL>", "S3-compatible endpoint (needs --s3-bucket)")
    .option("--s3-bucket <B>", "keep sealed segments and packs in this S3 bucket")
    .option("--s3-prefix <P>", "key prefix in the bucket", "")
    .option("--s3-region <R>", "S3 region")
    .addOption(new Option("--db-url <URL>", "libSQL database URL (default: DATA/strata.db)").env("STRATA_DB_URL"))
    .option("--quic-port <N>", "also serve QUIC on this UDP port (0: any free port)")
    .option("--ucx-port <N>", "also serve chunk and segment ranges over UCX on this TCP port (0: any free port; docs/native.md)")
    .option("--ucx-host <HOST>", "address of the UCX listener (default: --host)")
    .option("--egress-limit <RATE>", "bytes per second all artefact downloads together may send, e.g. 500MB/s (0: unlimited; docs/versions.md)")
    .option("--tls-cert <FILE>", "TLS certificate (PEM; with --tls-key): HTTPS on the HTTP port, and QUIC's")
    .option("--tls-key <FILE>", "TLS private key (PEM; with --tls-cert)")
    .option("--cors-origin <ORIGIN>", "let pages from ORIGIN call the API (repeatable)", collect, [])
    .option("--auth", "require bearer tokens with per-stream scopes (admin token in DATA/admin.token)")
    .option("--insecure", "serve a non-loopback --host without --auth")
    .option("--cluster", "join the gateways sharing --db-url (a libSQL server) and S3 (docs/cluster.md; or STRATA_CLUSTER=1)")
    .addOption(new Option("--node <NAME>", "this gateway's node name in the cluster (default: an id kept in DATA/node-id)").env("STRATA_NODE"))
    .option("--advertise <URL>", "the URL other gateways reach this one at (default: the listening URL)")
    .addOption(new Option("--otlp-endpoint <URL>", "export OpenTelemetry spans of publish, fetch and ack over OTLP/HTTP to URL (docs/tracing.md)").env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    .option("--trace-sample-ratio <R>", "head sampling: trace this share (0..1) of requests without a traceparent; one with a traceparent follows its sampled flag (default 1; docs/tracing.md)")
    .option("--no-access-log", "no access-log record per request (docs/logging.md)")
    .option("--no-request-metrics", "no per-request metrics (docs/metrics.md)")
    .option("--config <FILE>", "JSON file with any part of the gateway configuration (limits, storage, artefacts, quic, ...); flags win")
    .addHelpText("after", details);
  defineAction(command, { args: z.tuple([]), opts: serveOpts }, async (_args, opts) => {
    if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
    // Only what was given counts as a flag: a default (--data data, --s3-prefix "") must not hide the file's value.
    const given = (key: string): boolean => {
      const source = command.getOptionValueSource(key);
      return source === "cli" || source === "env";
    };
    const fromFile = opts.config === undefined ? {} : await readGatewayConfigFile(opts.config);
    // The S3 flags refine the file's s3 (or make one with --s3-bucket); without a bucket anywhere
    // --s3-prefix and --s3-region are ignored, as they always were.
    const bucket = opts.s3Bucket ?? fromFile.s3?.bucket;
    if (opts.s3Endpoint && bucket === undefined) throw new UsageError("--s3-endpoint needs --s3-bucket (or s3.bucket in --config)");
    const problem = protectedModeProblem({ host: opts.host, auth: opts.auth === true, insecure: opts.insecure === true });
    if (problem !== undefined) throw new Error(problem);
    const dbAuthToken = process.env.STRATA_DB_AUTH_TOKEN;
    const clusterMode = opts.cluster === true || process.env.STRATA_CLUSTER === "1" || process.env.STRATA_CLUSTER === "true";
    if (!clusterMode && (opts.node !== undefined || opts.advertise !== undefined)) throw new UsageError("--node and --advertise need --cluster (or STRATA_CLUSTER=1)");
    const adminToken = process.env.STRATA_ADMIN_TOKEN;
    const observability = {
      ...(opts.otlpEndpoint !== undefined ? { otlpEndpoint: opts.otlpEndpoint } : {}),
      ...(opts.traceSampleRatio !== undefined ? { traceSampleRatio: opts.traceSampleRatio } : {}),
      ...(given("accessLog") ? { accessLog: opts.accessLog } : {}),
      ...(given("requestMetrics") ? { requestMetrics: opts.requestMetrics } : {}),
    };
    const fromFlags: GatewayConfigLayer = {
      ...(given("data") ? { dataDir: opts.data } : {}),
      ...(opts.corsOrigin.length > 0 ? { corsOrigins: opts.corsOrigin } : {}),
      ...(opts.dbUrl ? { dbUrl: opts.dbUrl } : {}),
      ...(opts.egressLimit !== undefined ? { egress: { ...fromFile.egress, bytesPerSecond: opts.egressLimit } } : {}),
      ...(dbAuthToken ? { dbAuthToken } : {}),
      ...(clusterMode ? { clusterMode: { enabled: true, ...(opts.node !== undefined ? { node: opts.node } : {}) } } : {}),
      ...(opts.auth ? { auth: { enabled: true, ...(adminToken ? { adminToken } : {}) } } : {}),
      ...(Object.keys(observability).length > 0 ? { observability: { ...fromFile.observability, ...observability } } : {}),
      ...(bucket !== undefined
        ? { s3: { bucket, ...(opts.s3Endpoint ? { endpoint: opts.s3Endpoint } : {}), ...(given("s3Prefix") ? { prefix: opts.s3Prefix } : {}), ...(opts.s3Region ? { region: opts.s3Region } : {}) } }
        : {}),
    };
    const config: GatewayConfig = { dataDir: opts.data, ...layerGatewayConfig(fromFile, fromFlags) };
    // Read before the gateway opens: a missing certificate file stops start-up with nothing opened.
    const tls = opts.tlsCert && opts.tlsKey ? { certPem: await readFile(opts.tlsCert, "utf8"), keyPem: await readFile(opts.tlsKey, "utf8") } : undefined;
    // Asked for and impossible here: refuse before anything is opened.
    const ucxMissing = opts.ucxPort === undefined ? undefined : ucxUnavailableReason();
    if (ucxMissing !== undefined) throw new Error(`--ucx-port: UCX is not available here: ${ucxMissing}`);
    const gateway = await openGateway(config);
    const server = await serve(gateway.app.fetch, { host: opts.host, port: opts.port, maxRequestBytes: gateway.config.http.maxBodyBytes, idleTimeoutSeconds: gateway.config.http.idleTimeoutSeconds, ...(tls ? { tls } : {}) });
    try {
      await gateway.startCluster(opts.advertise ?? server.url);
    } catch (e) {
      await server.close();
      await gateway.close();
      throw e;
    }
    const member = gateway.cluster === undefined ? "" : `; cluster node ${gateway.cluster.node}, incarnation ${gateway.cluster.incarnation}`;
    print(`strata gateway listening on ${server.url} (${server.runtime}; data ${config.dataDir}; objects ${gateway.objectStore.description}${member})`);
    const auth = gateway.services.auth;
    if (auth.kind === "tokens") {
      print(`strata gateway: bearer tokens required (administrator token ${gateway.config.auth.adminToken === undefined ? `in ${join(gateway.config.dataDir, ADMIN_TOKEN_FILE)}` : "from STRATA_ADMIN_TOKEN"})`);
    }
    let quic: QuicServer | undefined;
    if (opts.quicPort !== undefined) {
      const unsupported = quicUnsupportedReason();
      if (unsupported) {
        print(`strata gateway: QUIC not served (${unsupported}); serving HTTP only`);
      } else {
        quic = await startQuicServer(gateway.services, {
          host: opts.host,
          port: opts.quicPort,
          dataDir: config.dataDir,
          limits: gateway.config.quic,
          ...(auth.kind === "tokens" ? { auth } : {}),
          ...(opts.tlsCert && opts.tlsKey ? { certFile: opts.tlsCert, keyFile: opts.tlsKey } : {}),
        });
        const l = quic.listener;
        const host = l.host.includes(":") ? `[${l.host}]` : l.host;
        print(`strata gateway QUIC listening on quic://${host}:${l.port} (${l.runtime}; ALPN strata/1; certificate ${quic.tls.certFile}${quic.tls.generated ? ", generated now" : ""}; SHA-256 fingerprint ${quic.tls.fingerprint})`);
      }
    }
    let ucx: UcxServer | undefined;
    if (opts.ucxPort !== undefined) {
      try {
        ucx = await startUcxServer(gateway.services, { host: opts.ucxHost ?? opts.host, port: opts.ucxPort, limits: gateway.config.ucx });
      } catch (e) {
        // A port in use or a worker UCX refuses: stop what was started, then fail.
        await quic?.close();
        await server.close();
        await gateway.close();
        throw e;
      }
      print(`strata gateway UCX listening on ucx://${ucx.host.includes(":") ? `[${ucx.host}]` : ucx.host}:${ucx.port} (libucp ${ucx.version})`);
    }
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    await quic?.close();
    await ucx?.close();
    await server.close();
    await gateway.close();
    return 0;
  });
}
