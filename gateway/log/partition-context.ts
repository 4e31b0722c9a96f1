// What one partition log is given by the LogStore: its identity and directory, the shared
// stores and caches, the limits, the WAL's file operations and where background failures go.
import type { GatewayMetrics } from "../metrics.ts";
import type { IntakeWriter } from "./intake-writer.ts";
import type { LeaseFence } from "./lease-fence.ts";
import type { FileCache } from "../objects/file-cache.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import type { RemoteSegmentReader } from "./remote-segment-reader.ts";
import type { SegmentCatalog } from "./segment-catalog.ts";
import type { StorageLimits } from "./storage-limits.ts";
import type { WalIo } from "./wal-io.ts";

export interface PartitionContext {
  readonly stream: string;
  readonly partition: number;
  /** This partition's directory (WAL, sealed files, cache/). */
  readonly dir: string;
  readonly objectStore: ObjectStore;
  readonly catalog: SegmentCatalog;
  readonly cache: FileCache;
  readonly remote: RemoteSegmentReader;
  readonly metrics: GatewayMetrics;
  readonly limits: StorageLimits;
  /** File operations of the WAL (node:fs unless a test injects faults). */
  readonly walIo: WalIo;
  /** Failures of background work (uploads, retention deletes) that no caller awaits. */
  readonly onBackgroundError: (error: unknown, what: string) => void;
  /** The least offset something above storage pins (dataset versions): retention keeps every segment holding it or later. */
  readonly pinnedFloor?: () => number | undefined;
  /** Cluster mode (docs/cluster.md): the lease this partition is led under and the gateway's intake. */
  readonly cluster?: PartitionCluster;
}

export interface PartitionCluster {
  /** Every commit of this leader (intake range, segment, retention, compaction) is checked against it. */
  readonly fence: LeaseFence;
  readonly intake: IntakeWriter;
  /** Longest an append waits for its intake commit before it fails with STORAGE_ERROR. */
  readonly ackTimeoutMs: number;
  /** A commit was fenced: the lease is gone (called once; the store resigns the partition). */
  readonly onLeaseLost: () => void;
}
