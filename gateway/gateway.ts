// The composition root: resolves the configuration, opens metadata, object store and storage
// engine, builds the services and the HTTP app. Every transport (HTTP, QUIC) is handed the same
// services and its part of the resolved configuration.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { resolveGatewayConfig, type GatewayConfig, type ResolvedGatewayConfig } from "./config/gateway-config.ts";
import { openDatabase, type Database } from "./db/database.ts";
import { createApp } from "./http/app.ts";
import type { GatewayServices } from "./services.ts";
import { createGatewayMetrics } from "./metrics.ts";
import { openArtefacts, type Artefacts } from "./artefacts/artefacts.ts";
import { GroupService } from "./consumers/group-service.ts";
import { DatasetService } from "./datasets/dataset-service.ts";
import { JobService } from "./jobs/job-service.ts";
import { FleetService } from "./fleet/fleet-service.ts";
import { GradientService } from "./gradients/gradient-service.ts";
import { QueueService } from "./queues/queue-service.ts";
import { LogService, type LeaderRawRead } from "./streams/log-service.ts";
import { ProducerOwners } from "./auth/producer-owners.ts";
import { LatestService } from "./streams/latest-service.ts";
import { StreamCompactor } from "./streams/latest-compactor.ts";
import { openAuth } from "./auth/gateway-auth.ts";
import { type StreamConfig, StreamService } from "./streams/stream-service.ts";
import { InstrumentedObjectStore } from "./objects/instrumented-object-store.ts";
import { LocalObjectStore } from "./objects/local-object-store.ts";
import { LogStore } from "./log/log-store.ts";
import type { ObjectStore } from "./objects/object-store.ts";
import { S3ObjectStore } from "./objects/s3-object-store.ts";
import { acquireDirLock } from "../runtime/lock/dir-lock.ts";
import { VersionsIndex } from "./streams/versions-index.ts";
import { VersionsService } from "./streams/versions-service.ts";
import { ClusterService, registerClusterNode } from "./cluster/cluster-service.ts";
import { ARTEFACT_GC_LOCK } from "./cluster/cluster-locks.ts";
import type { Membership } from "./cluster/membership.ts";
import { HttpPartitionForwarder } from "./cluster/partition-forwarder.ts";
import { gatewayCredential } from "./cluster/gateway-credential.ts";
import { readRawFromLeader } from "./queues/remote-read.ts";
import { sweepIntake } from "./log/intake-sweeper.ts";
import { coordinateServices } from "./cluster/coordinated-services.ts";
import { RequestMetrics } from "./observability/request-metrics.ts";
import { openTracing } from "./observability/tracing.ts";
import { StreamMetrics } from "./observability/stream-metrics.ts";
import { registerOperationalMetrics } from "./observability/operational-metrics.ts";
import { AnomalyFeed } from "./observability/anomaly-feed.ts";
import { ensureAnomalyStream } from "./observability/anomaly-stream.ts";
import { createAnomalyMonitor } from "./observability/anomaly-monitor.ts";
import { GATEWAY_SUBJECT } from "./cluster/gateway-credential.ts";

export type { GatewayConfig, ResolvedGatewayConfig, S3Config } from "./config/gateway-config.ts";

export interface Gateway {
  readonly app: ReturnType<typeof createApp>;
  readonly services: GatewayServices;
  readonly objectStore: ObjectStore;
  /** Everything the gateway runs with, defaults filled in; transports take their part of it. */
  readonly config: ResolvedGatewayConfig;
  /** Cluster mode: this gateway's membership, leases and routing (docs/cluster.md); undefined otherwise. */
  readonly cluster: ClusterService | undefined;
  /**
   * Cluster mode: announces the URL other gateways reach this one at and starts taking its share
   * of the partitions; called once the HTTP server listens. A no-op outside cluster mode.
   */
  startCluster(advertisedUrl: string): Promise<void>;
  /** In cluster mode hands every led partition over first (appends in flight commit), then leaves. */
  close(): Promise<void>;
}

/** Opens the gateway; a bad configuration fails here (BAD_REQUEST naming the key, value and range) before anything is opened. */
export async function openGateway(input: GatewayConfig): Promise<Gateway> {
  const config = resolveGatewayConfig(input);
  const { dataDir, limits } = config;
  await mkdir(dataDir, { recursive: true });
  // Held for the gateway's whole life: a second gateway on this directory would reuse its offsets.
  const lock = await acquireDirLock(dataDir, "gateway");
  const metrics = createGatewayMetrics();
  let database: Database | undefined;
  let objectStore: ObjectStore | undefined;
  let logs: LogStore | undefined;
  let artefacts: Artefacts | undefined;
  // Until the dataset versions are loaded, retention keeps everything (floor 0).
  let datasets: DatasetService | undefined;
  let membership: Membership | undefined;
  let cluster: ClusterService | undefined;
  try {
    database = await openDatabase(config.dbUrl, config.dbAuthToken);
    // Cluster mode: registered (a new incarnation) before storage opens: pack commits are fenced by it.
    if (config.clusterMode.enabled) membership = await registerClusterNode(database.db, dataDir, config.clusterMode.node, config.cluster);
    const rawStore = config.s3
      ? await S3ObjectStore.open({ forcePathStyle: true, ...config.s3 })
      : await LocalObjectStore.open(join(dataDir, "objects"));
    objectStore = new InstrumentedObjectStore(rawStore, metrics);
    logs = await LogStore.open({ dataDir, objectStore, db: database.db, metrics, limits: config.storage, pinnedFloor: (stream, partition) => (datasets === undefined ? 0 : datasets.pinnedFloor(stream, partition)), ...(membership === undefined ? {} : { cluster: { node: membership.node, incarnation: membership.incarnation, intake: config.intake, onLeaseLost: (stream: string, partition: number, epoch: number) => cluster?.onLeaseLost(stream, partition, epoch) } }) });
    if (membership !== undefined) {
      const { db } = database;
      const store = objectStore;
      cluster = new ClusterService({ db, membership, logs, limits: config.cluster, sweepIntake: { periodMs: config.intake.sweepMs, run: async () => void (await sweepIntake(db, store, config.intake)) }, registry: metrics.registry });
    }
    const clusterService = cluster;
    // Raw reads (QUIC fetch, dataset samples, queues) of partitions led elsewhere come from their leader.
    const readFromLeader: LeaderRawRead = (leader, request, authorization) => readRawFromLeader(leader, request, { timeoutMs: config.cluster.forwardTimeoutMs, authorization });
    const routing = clusterService === undefined ? undefined : { router: clusterService, forwarder: new HttpPartitionForwarder(config.cluster), readFromLeader };
    const streams = await StreamService.open(database.db, logs, limits, clusterService === undefined ? undefined : { router: clusterService, reloadMs: config.cluster.rebalanceMs });
    const latest = await LatestService.open(streams, logs, config.compaction, limits);
    const compactor = new StreamCompactor(streams, logs, latest, config.compaction, metrics.registry);
    const openLogs = logs;
    artefacts = await openArtefacts({
      db: database.db,
      store: objectStore,
      dataDir,
      limits: config.artefacts,
      egress: config.egress,
      registry: metrics.registry,
      ...(clusterService === undefined ? {} : { cluster: { node: clusterService.node, incarnation: clusterService.incarnation, gcAllowed: () => clusterService.locks.holds(ARTEFACT_GC_LOCK) } }),
      // A gone stream or partition keeps nothing alive; one not open here keeps everything.
      startOffsetOf: (stream, partition) => {
        let streamConfig: StreamConfig;
        try {
          streamConfig = streams.require(stream);
        } catch {
          return undefined;
        }
        if (partition >= streamConfig.partitions) return undefined;
        try {
          return openLogs.partition(stream, partition).startOffset;
        } catch {
          return 0;
        }
      },
    });
    const auth = await openAuth({ ...config.auth, dataDir, db: database.db, sharedKey: clusterService !== undefined });
    // Cluster mode: the stateful services open dormant and run on the coordinator only (coordinated-services.ts).
    const dormant = clusterService !== undefined;
    // Flags go to _strata/anomalies through the log service built below (docs/anomalies.md).
    const anomalyMonitor = createAnomalyMonitor(config.anomalies, metrics.registry, (stream, records) => logService.publish(stream, { records: [...records], producer: null }), () => ensureAnomalyStream(streams, config.anomalies.streamRetentionMs));
    const groups = await GroupService.open(database.db, streams, config.groups, { dormant, processing: anomalyMonitor.groups });
    const versions = new VersionsService(streams, logs, config.versions, new VersionsIndex(database.db, config.versions));
    const streamMetrics = new StreamMetrics(metrics.registry, logs);
    const logService = new LogService(streams, logs, metrics, limits, { onArtefactRefs: artefacts.onArtefactRefs, onArtefactRecord: versions.onArtefactRecord, reads: streamMetrics, admit: (stream, records, partition) => latest.admit(stream, records, partition), anomalies: anomalyMonitor.log }, new ProducerOwners(database.db), config.filters, routing && auth.kind === "tokens" ? { ...routing, gatewayAuthorization: gatewayCredential(auth.tokens), gatewaySubject: GATEWAY_SUBJECT } : routing);
    const queues = await QueueService.open(database, streams, logService, config.queues, metrics.registry, { dormant, deliveries: streamMetrics, processing: anomalyMonitor.queues });
    datasets = await DatasetService.open({ db: database.db, streams, logs, log: logService, limits: config.datasets, serviceLimits: limits, filterLimits: config.filters, objectStore, dormant });
    const jobs = await JobService.open({ db: database.db, streams, log: logService, manifests: artefacts.services.manifests, limits: config.jobs, dormant });
    // GC keeps the shards of open and kept checkpoints whatever references them.
    artefacts.services.gc.addHolder(() => jobs.heldManifests());
    const manifests = artefacts.services.manifests;
    const fleet = await FleetService.open({ db: database.db, limits: config.fleet, checkArtefact: async (id) => void (await manifests.info(id)), dormant });
    artefacts.services.gc.addHolder(() => fleet.heldManifests());
    registerOperationalMetrics({ registry: metrics.registry, limits: config.metrics, groups, queues, fleet, recordTimestamp: async (stream, partition, offset) => (await logService.readRaw({ stream, partition, offset, maxRecords: 1 })).records[0]?.timestamp });
    const coordination = clusterService === undefined ? undefined : await coordinateServices({ db: database.db, node: clusterService.node, limits: config.cluster, services: [groups, queues, datasets, jobs, fleet] });
    const services: GatewayServices = {
      streams,
      log: logService,
      latest,
      compactor,
      groups,
      queues,
      datasets,
      jobs,
      fleet,
      versions,
      gradients: new GradientService(database.db, streams, logService, config.gradients, metrics.registry),
      anomalies: new AnomalyFeed(logService, async (stream, partition) => {
        const p = (await streams.info(stream)).partitions[partition]!;
        return { start: p.start_offset, end: p.end_offset };
      }, config.anomalies.maxPageRecords),
      metrics,
      limits,
      observability: config.observability,
      requestMetrics: config.observability.requestMetrics ? new RequestMetrics(metrics.registry) : undefined,
      tracing: await openTracing(config.observability),
      artefacts: artefacts.services,
      auth,
      ...(clusterService === undefined ? {} : { cluster: clusterService }),
      ...(coordination === undefined ? {} : { coordination }),
    };
    const opened = { database, objectStore, logs, artefacts, cluster };
    compactor.start();
    return {
      app: createApp(services, config.http),
      services,
      objectStore,
      config,
      cluster: opened.cluster,
      startCluster: async (advertisedUrl) => {
        await opened.cluster?.start(advertisedUrl);
      },
      async close() {
        await anomalyMonitor.close();
        await services.tracing?.shutdown(); // exports the spans not yet sent
        // First, while storage is open: led partitions are handed over and the membership ends.
        await coordination?.close();
        await opened.cluster?.close();
        streams.close();
        await groups.close();
        await compactor.close();
        await jobs.close();
        queues.close();
        await opened.artefacts.close();
        await opened.logs.close();
        await opened.objectStore.close();
        opened.database.close();
        lock.release();
      },
    };
  } catch (e) {
    await cluster?.close().catch(() => undefined);
    await membership?.leave().catch(() => undefined);
    await artefacts?.close().catch(() => undefined);
    await logs?.close().catch(() => undefined);
    await objectStore?.close().catch(() => undefined);
    database?.close();
    lock.release();
    throw e;
  }
}
