// The services every transport is handed (HTTP routes and QUIC frame handlers alike). Built by
// openGateway (gateway.ts); transports only decode, call one of these, and encode.
import type { ArtefactServices } from "./artefacts/artefacts.ts";
import type { GatewayAuth } from "./auth/gateway-auth.ts";
import type { GroupService } from "./consumers/group-service.ts";
import type { DatasetService } from "./datasets/dataset-service.ts";
import type { GradientService } from "./gradients/gradient-service.ts";
import type { JobService } from "./jobs/job-service.ts";
import type { FleetService } from "./fleet/fleet-service.ts";
import type { GatewayMetrics } from "./metrics.ts";
import type { LogService } from "./streams/log-service.ts";
import type { LatestService } from "./streams/latest-service.ts";
import type { StreamCompactor } from "./streams/latest-compactor.ts";
import type { QueueService } from "./queues/queue-service.ts";
import type { ServiceLimits } from "./streams/service-limits.ts";
import type { StreamService } from "./streams/stream-service.ts";
import type { VersionsService } from "./streams/versions-service.ts";
import type { ServiceCoordination } from "./cluster/coordinator.ts";
import type { ClusterService } from "./cluster/cluster-service.ts";
import type { ObservabilityConfig } from "./observability/observability-config.ts";
import type { AnomalyFeed } from "./observability/anomaly-feed.ts";
import type { RequestMetrics } from "./observability/request-metrics.ts";
import type { Tracing } from "./observability/tracing.ts";

export interface GatewayServices {
  readonly streams: StreamService;
  readonly log: LogService;
  /** The latest record per key of compacted streams, and its long-poll (docs/compaction.md). */
  readonly latest: LatestService;
  /** Compaction of compacted streams, in the background and on demand. */
  readonly compactor: StreamCompactor;
  readonly groups: GroupService;
  /** Dataset versions, their retention pins and sample reads (docs/datasets.md). */
  readonly datasets: DatasetService;
  /** Work queues over streams (docs/queues.md). */
  readonly queues: QueueService;
  /** Gradient contributions checked against their step's signature (docs/gradients.md). */
  readonly gradients: GradientService;
  /** Training jobs and their all-or-none checkpoints (docs/checkpoints.md). */
  readonly jobs: JobService;
  /** Devices that report and staged rollouts (docs/fleet.md). */
  readonly fleet: FleetService;
  /** Artefact versions of streams, indexed at append (docs/versions.md). */
  readonly versions: VersionsService;
  /** The anomaly flags of `_strata/anomalies`, as GET /v1/anomalies reads them (docs/anomalies.md). */
  readonly anomalies: AnomalyFeed;
  readonly metrics: GatewayMetrics;
  readonly limits: ServiceLimits;
  /** Which request metrics, access log and trace export the transports produce (config.observability). */
  readonly observability: ObservabilityConfig;
  /** HTTP and QUIC request counts, latencies and in-flight gauges; undefined when observability.requestMetrics is off (docs/metrics.md). */
  readonly requestMetrics: RequestMetrics | undefined;
  /** OpenTelemetry spans of publish, fetch and ack; undefined when no OTLP endpoint is configured (docs/tracing.md). */
  readonly tracing: Tracing | undefined;
  readonly artefacts: ArtefactServices;
  /** Who a request acts as (verify a bearer token) and, with --auth, the token service; authorize with gateway/auth/principal.ts. */
  readonly auth: GatewayAuth;
  /** Cluster mode: where the stateful services (groups, queues, datasets, jobs, gradients, fleet) run; their routes are proxied there (docs/cluster.md). */
  readonly coordination?: ServiceCoordination;
  /** Cluster mode: this gateway's membership, partition leases and routing (GET /v1/cluster, docs/cluster.md). */
  readonly cluster?: ClusterService;
}
