// Builds the artefact subsystem (chunk store, manifests, artefact reads, ref index, GC) for
// the composition root, and the LogService hook that indexes ArtefactRefs at append.
import { getLogger } from "@logtape/logtape";
import { isStrataError } from "../../core/errors.ts";
import type { MetadataDb } from "../db/database.ts";
import type { MetricsRegistry } from "../metrics.ts";
import { ChunkStore } from "./chunk-store.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import { ArtefactGc } from "./artefact-gc.ts";
import { type ArtefactLimits, resolveArtefactLimits } from "./artefact-limits.ts";
import { createArtefactMetrics } from "./artefact-metrics.ts";
import { ArtefactRefIndex, type StartOffsetOf } from "./artefact-ref-index.ts";
import { ArtefactService } from "./artefact-service.ts";
import { ManifestService } from "./manifest-service.ts";
import { EgressLimiter, type EgressLimits } from "./egress-limiter.ts";
import type { ArtefactsCluster } from "./node-fence.ts";

export type { ArtefactsCluster } from "./node-fence.ts";

const log = getLogger(["strata", "artefacts"]);

/** What the transports use of the artefact subsystem. */
export interface ArtefactServices {
  readonly artefacts: ArtefactService;
  readonly manifests: ManifestService;
  readonly gc: ArtefactGc;
}

export interface ArtefactsConfig {
  readonly db: MetadataDb;
  readonly store: ObjectStore;
  readonly dataDir: string;
  readonly limits?: Partial<ArtefactLimits>;
  readonly registry: MetricsRegistry;
  readonly startOffsetOf: StartOffsetOf;
  /** The gateway-wide egress limit of artefact downloads (egress-limiter.ts); unlimited when absent. */
  readonly egress?: EgressLimits;
  /**
   * Cluster mode (docs/cluster.md): packs under packs/<node>/, their commits fenced by the node's
   * incarnation, start-up recovery of this node's packs only, GC only while gcAllowed() (the
   * cluster lock "artefact-gc"). Absent for one gateway alone.
   */
  readonly cluster?: ArtefactsCluster | undefined;
}

export interface Artefacts {
  readonly services: ArtefactServices;
  readonly chunkStore: ChunkStore;
  readonly onArtefactRefs: (stream: string, partition: number, offset: number, manifestIds: readonly string[]) => Promise<void>;
  close(): Promise<void>;
}

export async function openArtefacts(config: ArtefactsConfig): Promise<Artefacts> {
  const limits = resolveArtefactLimits(config.limits);
  const metrics = createArtefactMetrics(config.registry);
  const chunkStore = await ChunkStore.open({ db: config.db, store: config.store, dataDir: config.dataDir, limits, metrics, cluster: config.cluster });
  const manifests = new ManifestService(config.db, config.store, chunkStore, limits);
  const refs = new ArtefactRefIndex(config.db);
  const gc = new ArtefactGc(config.db, chunkStore, manifests, refs, config.startOffsetOf, limits, metrics, config.cluster);
  let running: Promise<unknown> = Promise.resolve();
  const timer =
    limits.gcIntervalMs > 0
      ? setInterval(() => {
          // In a cluster only the holder of the GC lock collects; the others skip their turn.
          if (!gc.allowed()) return;
          running = gc.run().catch((e: unknown) => {
            // The GC lock moved to another gateway between the check and the run, or during it.
            if (isStrataError(e) && (e.code === "NOT_LEADER" || e.code === "LEASE_LOST")) log.info("artefact GC stopped: {reason}", { reason: e.message });
            else log.error("artefact GC failed: {error}", { error: e });
          });
        }, limits.gcIntervalMs)
      : undefined;
  timer?.unref?.();
  return {
    services: { artefacts: new ArtefactService(chunkStore, manifests, limits, new EgressLimiter(config.egress)), manifests, gc },
    chunkStore,
    onArtefactRefs: (stream, partition, offset, ids) => refs.add(stream, partition, offset, ids),
    async close() {
      if (timer) clearInterval(timer);
      await running;
      await chunkStore.close();
    },
  };
}
