// The composition root: opens metadata, object store and storage engine, builds the services
// and the HTTP app. Every transport (HTTP today, QUIC later) is handed the same services.
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { openDatabase, type Database } from "./db/database.ts";
import { createApp } from "./http/app.ts";
import type { GatewayServices } from "./services.ts";
import { createGatewayMetrics } from "./metrics.ts";
import { openArtefacts, type Artefacts } from "./artefacts/artefacts.ts";
import type { ArtefactLimits } from "./artefacts/artefact-limits.ts";
import { GroupService } from "./consumers/group-service.ts";
import { DEFAULT_SERVICE_LIMITS, type ServiceLimits } from "./streams/service-limits.ts";
import { LogService } from "./streams/log-service.ts";
import { type StreamConfig, StreamService } from "./streams/stream-service.ts";
import { InstrumentedObjectStore } from "./objects/instrumented-object-store.ts";
import { LocalObjectStore } from "./objects/local-object-store.ts";
import { LogStore } from "./log/log-store.ts";
import type { ObjectStore } from "./objects/object-store.ts";
import { S3ObjectStore } from "./objects/s3-object-store.ts";
import { resolveLimits, type StorageLimits } from "./log/storage-limits.ts";

export interface S3Config {
  readonly endpoint?: string;
  readonly bucket: string;
  readonly prefix?: string;
  readonly region?: string;
  readonly forcePathStyle?: boolean;
}

export interface GatewayConfig {
  /** Local state: WAL, segment cache, the embedded database and (by default) the object directory. */
  readonly dataDir: string;
  /** libSQL URL of the metadata database; default: an embedded file under dataDir. */
  readonly dbUrl?: string;
  readonly dbAuthToken?: string;
  /** S3-compatible object storage; default: the directory dataDir/objects. */
  readonly s3?: S3Config;
  readonly limits?: Partial<ServiceLimits>;
  readonly storage?: Partial<StorageLimits>;
  /** Chunk store, manifest, cache and GC bounds (gateway/artefacts/artefact-limits.ts). */
  readonly artefacts?: Partial<ArtefactLimits>;
  /** Origins whose browser pages may call the HTTP API (CORS); none by default. */
  readonly corsOrigins?: readonly string[];
}

export interface Gateway {
  readonly app: ReturnType<typeof createApp>;
  readonly services: GatewayServices;
  readonly objectStore: ObjectStore;
  close(): Promise<void>;
}

export async function openGateway(config: GatewayConfig): Promise<Gateway> {
  const dataDir = resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true });
  const limits: ServiceLimits = { ...DEFAULT_SERVICE_LIMITS, ...config.limits };
  const storageLimits = resolveLimits(config.storage);
  const metrics = createGatewayMetrics();
  let database: Database | undefined;
  let objectStore: ObjectStore | undefined;
  let logs: LogStore | undefined;
  let artefacts: Artefacts | undefined;
  try {
    database = await openDatabase(config.dbUrl ?? `file:${join(dataDir, "strata.db")}`, config.dbAuthToken);
    const rawStore = config.s3
      ? await S3ObjectStore.open({ forcePathStyle: true, ...config.s3 })
      : await LocalObjectStore.open(join(dataDir, "objects"));
    objectStore = new InstrumentedObjectStore(rawStore, metrics);
    logs = await LogStore.open({ dataDir, objectStore, db: database.db, metrics, limits: storageLimits });
    const streams = await StreamService.open(database.db, logs, limits);
    const openLogs = logs;
    artefacts = await openArtefacts({
      db: database.db,
      store: objectStore,
      dataDir,
      limits: config.artefacts,
      registry: metrics.registry,
      // A gone stream or partition keeps nothing alive; one not open here keeps everything.
      startOffsetOf: (stream, partition) => {
        let config: StreamConfig;
        try {
          config = streams.require(stream);
        } catch {
          return undefined;
        }
        if (partition >= config.partitions) return undefined;
        try {
          return openLogs.partition(stream, partition).startOffset;
        } catch {
          return 0;
        }
      },
    });
    const services: GatewayServices = {
      streams,
      log: new LogService(streams, logs, metrics, limits, { onArtefactRefs: artefacts.onArtefactRefs }),
      groups: new GroupService(database.db, streams),
      metrics,
      limits,
      artefacts: artefacts.services,
    };
    const opened = { database, objectStore, logs, artefacts };
    return {
      app: createApp(services, { corsOrigins: config.corsOrigins ?? [] }),
      services,
      objectStore,
      async close() {
        await opened.artefacts.close();
        await opened.logs.close();
        await opened.objectStore.close();
        opened.database.close();
      },
    };
  } catch (e) {
    await artefacts?.close().catch(() => undefined);
    await logs?.close().catch(() => undefined);
    await objectStore?.close().catch(() => undefined);
    database?.close();
    throw e;
  }
}
