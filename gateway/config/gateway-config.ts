// The gateway's one configuration: what openGateway and `strata serve` take, validated as a whole
// at start (unknown keys, types, every limit's range, the cross-checks between subsystems) into
// a resolved configuration with every default filled in and every derived value computed. A bad
// configuration fails start-up with a message naming the key, the value and the allowed range.
import { resolve as resolvePath, join } from "node:path";
import { z } from "zod";
import { StrataError } from "../../core/errors.ts";
import { msgpackCapsFor, type MsgpackCaps } from "../../core/log/msgpack-bounds.ts";
import { describeIssues as describeLimitIssues, type LimitFamily, type LimitSpecs } from "../../core/util/limit-spec.ts";
import { issuePath } from "../../core/util/parse-input.ts";
import { ARTEFACT_LIMITS, resolveArtefactLimits, type ArtefactLimits } from "../artefacts/artefact-limits.ts";
import { resolveLimits as resolveStorageLimits, STORAGE_LIMITS, type StorageLimits } from "../log/storage-limits.ts";
import { s3TimeoutsShape } from "../objects/s3-timeouts.ts";
import { GROUP_LIMITS, resolveGroupLimits, type GroupLimits } from "../consumers/group-limits.ts";
import { QUEUE_LIMITS, resolveQueueLimits, type QueueLimits } from "../queues/queue-limits.ts";
import { QUIC_LIMITS, type QuicLimits } from "../quic/quic-limits.ts";
import { FILTER_LIMITS, type FilterLimits } from "../filters/filter-limits.ts";
import { DATASET_LIMITS, type DatasetLimits } from "../datasets/dataset-limits.ts";
import { GRADIENT_LIMITS, type GradientLimits } from "../gradients/gradient-limits.ts";
import { JOB_LIMITS, type JobLimits } from "../jobs/job-limits.ts";
import { FLEET_LIMITS, type FleetLimits } from "../fleet/fleet-limits.ts";
import { CLUSTER_LIMITS, resolveClusterLimits, type ClusterLimits } from "../cluster/cluster-limits.ts";
import { INTAKE_LIMITS, type IntakeLimits } from "../log/intake-limits.ts";
import { VERSION_LIMITS, type VersionLimits } from "../streams/versions-limits.ts";
import { EGRESS_LIMITS, type EgressLimits } from "../artefacts/egress-limiter.ts";
import { COMPACTION_LIMITS, type CompactionLimits } from "../log/compaction-limits.ts";
import { resolveUcxLimits, UCX_LIMITS, type UcxLimits } from "../ucx/ucx-limits.ts";
import { METRICS_LIMITS, type MetricsLimits } from "../observability/metrics-limits.ts";
import { resolveServiceLimits, SERVICE_LIMITS, type ServiceLimits } from "../streams/service-limits.ts";
import { ANOMALY_LIMITS, type AnomalyLimits } from "../observability/anomaly-limits.ts";
import { observabilitySchema, resolveObservability, type ObservabilityConfig } from "../observability/observability-config.ts";
import { checkLimitsAgree } from "./cross-checks.ts";

/** Seconds an HTTP connection may idle beyond the longest long-poll. */
const IDLE_MARGIN_SECONDS = 30;
/** Nesting of a hash list (`{hashes: [...]}`) and of a chunk batch (`{chunks: [[hash, data], ...]}`). */
const HASH_LIST_DEPTH = 2;
const CHUNK_BATCH_DEPTH = 3;

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === value;
  } catch {
    return false;
  }
}

const s3Schema = z.strictObject({
  endpoint: z.url().optional(),
  bucket: z.string().min(1),
  prefix: z.string().optional(),
  region: z.string().min(1).optional(),
  forcePathStyle: z.boolean().optional(),
  ...s3TimeoutsShape,
});

export const gatewayConfigSchema = z.strictObject({
  /** Local state: WAL, segment cache, the embedded database and (by default) the object directory. */
  dataDir: z.string().min(1),
  /** libSQL URL of the metadata database; default: an embedded file under dataDir. */
  dbUrl: z.string().min(1).optional(),
  dbAuthToken: z.string().optional(),
  /** S3-compatible object storage; default: the directory dataDir/objects. */
  s3: s3Schema.optional(),
  /** Service limits (gateway/streams/service-limits.ts). */
  limits: SERVICE_LIMITS.schema.optional(),
  /** Storage engine limits (gateway/log/storage-limits.ts). */
  storage: STORAGE_LIMITS.schema.optional(),
  /** Chunk store, manifest, cache and GC bounds (gateway/artefacts/artefact-limits.ts). */
  artefacts: ARTEFACT_LIMITS.schema.optional(),
  /** QUIC transport bounds (gateway/quic/quic-limits.ts). */
  quic: QUIC_LIMITS.schema.optional(),
  /** Bounds of CEL record filters (gateway/filters/filter-limits.ts). */
  filters: FILTER_LIMITS.schema.optional(),
  /** Consumer-group coordinator bounds (gateway/consumers/group-limits.ts). */
  groups: GROUP_LIMITS.schema.optional(),
  /** Work-queue bounds (gateway/queues/queue-limits.ts). */
  queues: QUEUE_LIMITS.schema.optional(),
  /** Dataset versions and sample reads (gateway/datasets/dataset-limits.ts). */
  datasets: DATASET_LIMITS.schema.optional(),
  /** Gradient contributions (gateway/gradients/gradient-limits.ts). */
  gradients: GRADIENT_LIMITS.schema.optional(),
  /** Training jobs and their checkpoints (gateway/jobs/job-limits.ts). */
  jobs: JOB_LIMITS.schema.optional(),
  /** Devices and staged rollouts (gateway/fleet/fleet-limits.ts). */
  fleet: FLEET_LIMITS.schema.optional(),
  /**
   * Cluster mode (docs/cluster.md): this gateway joins the others on the same metadata database
   * (a libSQL server: dbUrl http:// or https://) and object store (s3), leads the partitions whose
   * leases it holds and forwards the rest. `node` names the gateway (default: a stable id kept in
   * dataDir).
   */
  clusterMode: z.strictObject({ enabled: z.boolean(), node: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/).optional() }).optional(),
  /** Leases, renewals, rebalancing and forwarding (gateway/cluster/cluster-limits.ts). */
  cluster: CLUSTER_LIMITS.schema.optional(),
  /** The intake objects of cluster mode (gateway/log/intake-limits.ts). */
  intake: INTAKE_LIMITS.schema.optional(),
  /** Artefact versions listings (gateway/streams/versions-limits.ts). */
  versions: VERSION_LIMITS.schema.optional(),
  /** The gateway-wide egress limit of artefact downloads (`--egress-limit`, gateway/artefacts/egress-limiter.ts). */
  egress: EGRESS_LIMITS.schema.optional(),
  /** Compacted streams: the background compactor and the latest-per-key index (gateway/log/compaction-limits.ts). */
  compaction: COMPACTION_LIMITS.schema.optional(),
  /** The native UCX transport (`strata serve --ucx-port`, gateway/ucx/ucx-limits.ts). */
  ucx: UCX_LIMITS.schema.optional(),
  /** The work of one /metrics scrape: lag, queue and device series (gateway/observability/metrics-limits.ts). */
  metrics: METRICS_LIMITS.schema.optional(),
  /** Request metrics, the access log and OTLP trace export (gateway/observability/observability-config.ts). */
  observability: observabilitySchema.optional(),
  /** The anomaly flags of streams, groups and queues (gateway/observability/anomaly-limits.ts). */
  anomalies: ANOMALY_LIMITS.schema.optional(),
  /** Origins whose browser pages may call the HTTP API (CORS); none by default. */
  corsOrigins: z.array(z.string().refine(isOrigin, { message: "must be an origin like http://localhost:8080" })).optional(),
  /** Bearer tokens with per-stream scopes (docs/auth.md); off by default. adminToken: a fixed administrator secret instead of DATA/admin.token. */
  auth: z.strictObject({ enabled: z.boolean(), adminToken: z.string().min(32, { message: "an administrator token has at least 32 characters" }).optional() }).optional(),
});

export type GatewayConfig = z.input<typeof gatewayConfigSchema>;
export type S3Config = z.output<typeof s3Schema>;

/** What the HTTP transport needs besides the services. */
export interface HttpConfig {
  /** Origins whose browser pages may call the API (CORS). */
  readonly corsOrigins: readonly string[];
  /** The largest body any route accepts; the server's own cap must sit above it (serve.ts). */
  readonly maxBodyBytes: number;
  /** Idle timeout of HTTP connections, longer than the longest long-poll. */
  readonly idleTimeoutSeconds: number;
  /** MessagePack decoder caps of each kind of body, derived from its byte limit. */
  readonly decoders: {
    /** Publish, stream creation and offset commits (limits.maxRequestBytes). */
    readonly records: MsgpackCaps;
    /** /chunks/missing and /chunks/get (artefacts.maxHashRequestBytes). */
    readonly hashes: MsgpackCaps;
    /** PUT /chunks (artefacts.maxChunkRequestBytes). */
    readonly chunks: MsgpackCaps;
  };
}

export interface ResolvedGatewayConfig {
  /** Absolute. */
  readonly dataDir: string;
  readonly dbUrl: string;
  readonly dbAuthToken: string | undefined;
  readonly s3: S3Config | undefined;
  readonly limits: ServiceLimits;
  readonly storage: StorageLimits;
  readonly artefacts: ArtefactLimits;
  readonly quic: QuicLimits;
  readonly filters: FilterLimits;
  readonly groups: GroupLimits;
  readonly queues: QueueLimits;
  readonly datasets: DatasetLimits;
  readonly gradients: GradientLimits;
  readonly jobs: JobLimits;
  readonly fleet: FleetLimits;
  /** Off unless `clusterMode.enabled`; then dbUrl is a libSQL server and s3 is set (checked at resolve). */
  readonly clusterMode: { readonly enabled: boolean; readonly node: string | undefined };
  readonly cluster: ClusterLimits;
  readonly intake: IntakeLimits;
  readonly versions: VersionLimits;
  readonly egress: EgressLimits;
  readonly compaction: CompactionLimits;
  readonly ucx: UcxLimits;
  readonly metrics: MetricsLimits;
  readonly observability: ObservabilityConfig;
  readonly anomalies: AnomalyLimits;
  readonly http: HttpConfig;
  readonly auth: { readonly enabled: boolean; readonly adminToken: string | undefined };
}

const FAMILIES: ReadonlyMap<string, LimitFamily<LimitSpecs>> = new Map<string, LimitFamily<LimitSpecs>>([
  ["limits", SERVICE_LIMITS],
  ["storage", STORAGE_LIMITS],
  ["artefacts", ARTEFACT_LIMITS],
  ["quic", QUIC_LIMITS],
  ["filters", FILTER_LIMITS],
  ["groups", GROUP_LIMITS],
  ["queues", QUEUE_LIMITS],
  ["datasets", DATASET_LIMITS],
  ["gradients", GRADIENT_LIMITS],
  ["jobs", JOB_LIMITS],
  ["fleet", FLEET_LIMITS],
  ["cluster", CLUSTER_LIMITS],
  ["intake", INTAKE_LIMITS],
  ["versions", VERSION_LIMITS],
  ["egress", EGRESS_LIMITS],
  ["compaction", COMPACTION_LIMITS],
  ["ucx", UCX_LIMITS],
  ["metrics", METRICS_LIMITS],
  ["anomalies", ANOMALY_LIMITS],
]);

/** The value under `key` of an input not yet known to be an object. */
function fieldOf(input: unknown, key: string): unknown {
  return typeof input === "object" && input !== null && Object.hasOwn(input, key) ? Reflect.get(input, key) : undefined;
}

function describeConfigIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string {
  return issues
    .map((issue) => {
      const [head, ...rest] = issue.path;
      const family = typeof head === "string" ? FAMILIES.get(head) : undefined;
      if (family !== undefined && typeof head === "string" && (rest.length > 0 || issue.code === "unrecognized_keys")) {
        return describeLimitIssues([{ ...issue, path: rest }], family.name, family.specs, fieldOf(input, head));
      }
      if (issue.code === "unrecognized_keys") return issue.keys.map((k) => `${issuePath([...issue.path, k])} is not a configuration key`).join("; ");
      return issue.path.length === 0 ? issue.message : `${issuePath(issue.path)}: ${issue.message}`;
    })
    .join("; ");
}

/**
 * A part of the configuration (a file's, the command line's): every key optional, each checked
 * on its own (known keys, types, ranges); the checks between keys wait for the whole.
 */
export const gatewayConfigLayerSchema = gatewayConfigSchema.partial();
export type GatewayConfigLayer = z.input<typeof gatewayConfigLayerSchema>;

/** Checks a configuration part from outside the program; BAD_REQUEST `${source}: ...` names each bad key, value and range. */
export function parseGatewayConfigLayer(input: unknown, source: string): GatewayConfigLayer {
  const parsed = gatewayConfigLayerSchema.safeParse(input);
  if (!parsed.success) throw new StrataError("BAD_REQUEST", `${source}: ${describeConfigIssues(parsed.error.issues, input)}`);
  return parsed.data;
}

/** Runs a family's own resolution; its errors get the configuration's prefix. */
function inConfig<T>(resolve: () => T): T {
  try {
    return resolve();
  } catch (e) {
    if (e instanceof StrataError && e.code === "BAD_REQUEST" && !e.message.startsWith("gateway config: ")) {
      throw new StrataError("BAD_REQUEST", `gateway config: ${e.message}`, { cause: e });
    }
    throw e;
  }
}

export function resolveGatewayConfig(input: GatewayConfig): ResolvedGatewayConfig {
  const parsed = gatewayConfigSchema.safeParse(input);
  if (!parsed.success) throw new StrataError("BAD_REQUEST", `gateway config: ${describeConfigIssues(parsed.error.issues, input)}`);
  const config = parsed.data;
  const limits = inConfig(() => resolveServiceLimits(config.limits));
  // The storage engine's read bound is the service's: one value, set in one place.
  const storage = inConfig(() => resolveStorageLimits({ ...config.storage, maxFetchBytes: config.storage?.maxFetchBytes ?? limits.maxFetchBytes }));
  const artefacts = inConfig(() => resolveArtefactLimits(config.artefacts));
  const quic = QUIC_LIMITS.resolve(config.quic);
  checkLimitsAgree({ limits, storage, artefacts, quic });
  const dataDir = resolvePath(config.dataDir);
  if (config.clusterMode?.enabled) {
    // Every gateway of a cluster must see the same metadata and objects.
    if (config.dbUrl === undefined || config.dbUrl.startsWith("file:")) {
      throw new StrataError("BAD_REQUEST", "gateway config: clusterMode needs dbUrl to name a libSQL server (http:// or https://, STRATA_DB_URL) that every gateway shares");
    }
    if (config.s3 === undefined) throw new StrataError("BAD_REQUEST", "gateway config: clusterMode needs s3: an object store every gateway shares");
  }
  return Object.freeze({
    dataDir,
    dbUrl: config.dbUrl ?? `file:${join(dataDir, "strata.db")}`,
    dbAuthToken: config.dbAuthToken,
    s3: config.s3,
    limits,
    storage,
    artefacts,
    quic,
    groups: inConfig(() => resolveGroupLimits(config.groups)),
    queues: inConfig(() => resolveQueueLimits(config.queues)),
    filters: inConfig(() => FILTER_LIMITS.resolve(config.filters)),
    datasets: inConfig(() => DATASET_LIMITS.resolve(config.datasets)),
    gradients: inConfig(() => GRADIENT_LIMITS.resolve(config.gradients)),
    jobs: inConfig(() => JOB_LIMITS.resolve(config.jobs)),
    fleet: inConfig(() => FLEET_LIMITS.resolve(config.fleet)),
    clusterMode: Object.freeze({ enabled: config.clusterMode?.enabled ?? false, node: config.clusterMode?.node }),
    cluster: inConfig(() => resolveClusterLimits(config.cluster)),
    intake: inConfig(() => INTAKE_LIMITS.resolve(config.intake)),
    versions: inConfig(() => VERSION_LIMITS.resolve(config.versions)),
    egress: inConfig(() => EGRESS_LIMITS.resolve(config.egress)),
    compaction: inConfig(() => COMPACTION_LIMITS.resolve(config.compaction)),
    ucx: inConfig(() => resolveUcxLimits(config.ucx)),
    metrics: inConfig(() => METRICS_LIMITS.resolve(config.metrics)),
    observability: resolveObservability(config.observability),
    anomalies: inConfig(() => ANOMALY_LIMITS.resolve(config.anomalies)),
    auth: Object.freeze({ enabled: config.auth?.enabled ?? false, adminToken: config.auth?.adminToken }),
    http: Object.freeze({
      corsOrigins: Object.freeze([...(config.corsOrigins ?? [])]),
      maxBodyBytes: Math.max(limits.maxRequestBytes, artefacts.maxHashRequestBytes, artefacts.maxChunkRequestBytes, artefacts.maxManifestBytes),
      idleTimeoutSeconds: Math.ceil(limits.maxWaitMs / 1000) + IDLE_MARGIN_SECONDS,
      decoders: Object.freeze({
        records: msgpackCapsFor(limits.maxRequestBytes),
        hashes: msgpackCapsFor(artefacts.maxHashRequestBytes, HASH_LIST_DEPTH),
        chunks: msgpackCapsFor(artefacts.maxChunkRequestBytes, CHUNK_BATCH_DEPTH),
      }),
    }),
  });
}
