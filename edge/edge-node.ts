// openEdge: the edge node as a library. Publishing appends to the local outbox (offline or not);
// run() syncs it to the gateway and keeps pinned artefacts current; status() reads local state.
import { resolve, join } from "node:path";
import { StrataError } from "../core/errors.ts";
import { assertStreamName } from "../core/log/stream-name.ts";
import { openEdgeDatabase } from "./db/database.ts";
import { type EdgeLimits, resolveEdgeLimits } from "./limits.ts";
import { type EdgeRecord, encodeRecords } from "./records.ts";
import { Outbox, type ProducerIdentity } from "./store/outbox.ts";
import { type PinState, PinStore } from "./store/pins.ts";
import { loadTransportChoice, removeTransportChoice, saveTransportChoice } from "./store/transport-file.ts";
import { type PinCallback, PinSync, type PinUpdate } from "./sync/pin-sync.ts";
import { type SyncEvent, SyncLoop } from "./sync/sync-loop.ts";
import { tokenBucket } from "../core/util/token-bucket.ts";
import { acquireDirLock, type DirLock } from "../runtime/lock/dir-lock.ts";
import { connectTransport, type GatewayAddress } from "./transports/connect.ts";
import type { SyncTransport, TransportChoice } from "./transports/transport.ts";
import { type DeviceIdentity, deviceIdentity } from "./store/device.ts";
import { DeviceReporter } from "./sync/device-report.ts";
import { failoverGatewayHttp } from "./transports/http-failover.ts";

export interface EdgeOptions {
  /** Directory of the edge node's state: edge.db (outbox, identity, pins) and chunks/ (the pin cache). */
  readonly dataDir: string;
  /** Where run() syncs to; publishing and status need no gateway. */
  readonly gateway?: GatewayAddress;
  /**
   * A gateway token (`strata tokens issue`) allowed to publish on the streams the node publishes to
   * and to consume its pinned streams: sent as `Authorization: Bearer` over HTTP, in the hello over QUIC.
   */
  readonly token?: string;
  /** Bound of the outbox (encoded record bytes); a publish past it fails with OUTBOX_FULL. */
  readonly maxOutboxBytes: number;
  /** Total sync bandwidth (uploads and pin downloads), bytes per second; unlimited when absent. */
  readonly rateLimitBytesPerSec?: number;
  readonly limits?: Partial<EdgeLimits>;
  /** Sync progress and failures (acks, pin updates, errors with their retry delay). */
  readonly onEvent?: (event: EdgeEvent) => void;
  /** The id the node reports as (docs/fleet.md); default `d-` and its producer id in hex. */
  readonly deviceId?: string;
  /** Labels rollouts select devices by. */
  readonly labels?: Readonly<Record<string, string>>;
  /** The software version the heartbeat reports. */
  readonly version?: string;
}

export type EdgeEvent = SyncEvent | ({ readonly kind: "pin-updated" } & PinUpdate) | { readonly kind: "notice"; readonly message: string };

export interface EdgeStatus {
  readonly outboxRecords: number;
  readonly outboxBytes: number;
  /** Last successful exchange with the gateway (ms since the epoch), null if never. */
  readonly lastSync: number | null;
  readonly pins: readonly PinState[];
  readonly producer: ProducerIdentity;
  /** The sync loop's last failure in this process, null if none. */
  readonly lastError: string | null;
  /**
   * Which transport carries publishes and bulk transfers (pin pulls), with the measured MB/s behind
   * the bulk choice: the running loop's, else the last one saved by a run; null if never run.
   */
  readonly transport: TransportChoice | null;
}

export interface Edge {
  readonly dataDir: string;
  readonly producer: ProducerIdentity;
  /** The id and labels the node's heartbeat reports (docs/fleet.md). */
  readonly device: DeviceIdentity;
  /** Appends records to the outbox in one transaction; `outboxSeq` is the row's id (increasing). */
  publish(stream: string, records: readonly EdgeRecord[]): Promise<{ outboxSeq: number }>;
  /** Keeps `stream`'s latest artefact at `path` while run() is going; `onUpdate` after each replacement. */
  pin(stream: string, path: string, onUpdate?: PinCallback): Promise<PinState>;
  unpin(stream: string, path: string): Promise<void>;
  status(): Promise<EdgeStatus>;
  /** The sync loop; resolves after stop(). With `once`, returns when the outbox is drained and pins checked. */
  run(options?: { once?: boolean }): Promise<void>;
  stop(): Promise<void>;
  /** Stops the loop and closes the database. */
  close(): Promise<void>;
}

const CHUNK_CACHE_DIR = "chunks";
/** Header of every record published through an edge node: its publish time on the device, ms since the epoch (docs/fleet.md). */
export const DEVICE_TIME_HEADER = "strata-device-time";

/** The record with the device-time header unless it carries one; anything malformed is left for encodeRecords to refuse. */
function stampDeviceTime(record: EdgeRecord, deviceTime: string): EdgeRecord {
  if (typeof record !== "object" || record === null) return record;
  const headers: unknown = record.headers;
  if (headers !== undefined && (typeof headers !== "object" || headers === null || Array.isArray(headers))) return record;
  return { ...record, headers: { [DEVICE_TIME_HEADER]: deviceTime, ...record.headers } };
}

export async function openEdge(options: EdgeOptions): Promise<Edge> {
  const limits = resolveEdgeLimits(options.limits);
  if (!Number.isSafeInteger(options.maxOutboxBytes) || options.maxOutboxBytes < 1) throw new StrataError("BAD_REQUEST", "maxOutboxBytes must be a positive integer");
  const rate = options.rateLimitBytesPerSec ?? 0;
  if (!Number.isSafeInteger(rate) || rate < 0) throw new StrataError("BAD_REQUEST", "rateLimitBytesPerSec must be a non-negative integer");
  if (options.token !== undefined && options.token.trim() === "") throw new StrataError("BAD_REQUEST", "token must not be empty (leave it out for a gateway without --auth)");
  const dataDir = resolve(options.dataDir);
  const database = await openEdgeDatabase(dataDir);
  const outbox = new Outbox(database);
  const pinStore = new PinStore(database);
  const producer = await outbox.identity();
  const device = deviceIdentity(producer, options.deviceId, options.labels);
  const emit = (event: EdgeEvent): void => options.onEvent?.(event);
  let loop: SyncLoop | null = null;
  let running: Promise<void> | null = null;
  let transport: SyncTransport | null = null;
  let closed = false;
  // Taken by the first run(), kept until close(): one sync loop per data directory across
  // processes, while publishing from others (through the database) stays open.
  let runLock: DirLock | null = null;
  const bucket = tokenBucket(rate);
  // Heartbeats go over HTTP (the gateway's fleet routes); a QUIC-only address sends none.
  const reporter = options.gateway?.http
    ? new DeviceReporter(
        failoverGatewayHttp(options.gateway.http, { requestTimeoutMs: limits.requestTimeoutMs, attempts: 1, ...(options.token !== undefined ? { token: options.token } : {}), ...(options.gateway.ca !== undefined ? { ca: options.gateway.ca } : {}) }),
        device,
        options.version ?? "unknown",
        (message) => emit({ kind: "notice", message }),
      )
    : null;
  const snapshot = async () => {
    const pins: Record<string, string | null> = {};
    for (const p of await pinStore.list()) pins[p.stream] ??= p.artefact;
    return { pins, outboxRecords: (await outbox.totals()).records, transport: transport?.description ?? "none" };
  };
  const pinSync = new PinSync(pinStore, {
    ...(reporter ? { device: { reporter, snapshot } } : {}),
    cacheDir: join(dataDir, CHUNK_CACHE_DIR),
    cacheMaxBytes: limits.chunkCacheMaxBytes,
    bucket,
    onUpdate: (update) => emit({ kind: "pin-updated", ...update }),
    onError: (message) => {
      if (loop) loop.lastError = message;
      emit({ kind: "error", message, retryInMs: null });
    },
  });
  const open = (): void => {
    if (closed) throw new StrataError("BAD_REQUEST", "the edge node is closed");
  };

  const edge: Edge = {
    dataDir,
    producer,
    device,
    async publish(stream, records) {
      open();
      assertStreamName(stream);
      // The device's own time travels with each record (the gateway stamps its arrival time).
      const deviceTime = String(Date.now());
      const stamped = records.map((r) => stampDeviceTime(r, deviceTime));
      const encoded = encodeRecords(stamped, limits);
      const outboxSeq = await outbox.append(stream, encoded, options.maxOutboxBytes);
      loop?.wake();
      return { outboxSeq };
    },
    async pin(stream, path, onUpdate) {
      open();
      assertStreamName(stream);
      const absolute = resolve(path);
      const state = await pinStore.add(stream, absolute);
      pinSync.add(stream, absolute, onUpdate);
      loop?.wake();
      return state;
    },
    async unpin(stream, path) {
      open();
      const absolute = resolve(path);
      pinSync.remove(stream, absolute);
      await pinStore.remove(stream, absolute);
    },
    async status() {
      open();
      const totals = await outbox.totals();
      return {
        outboxRecords: totals.records,
        outboxBytes: totals.bytes,
        lastSync: totals.lastSync,
        pins: await pinStore.list(),
        producer,
        lastError: loop?.lastError ?? null,
        transport: transport?.choice() ?? loadTransportChoice(dataDir),
      };
    },
    async run(runOptions) {
      open();
      if (running) throw new StrataError("BAD_REQUEST", "the sync loop is already running");
      if (!options.gateway) throw new StrataError("BAD_REQUEST", "no gateway configured: openEdge({gateway: {http}})");
      const save = (choice: TransportChoice): void => {
        try {
          saveTransportChoice(dataDir, choice);
        } catch (e) {
          emit({ kind: "notice", message: `could not save the transport choice: ${(e as Error).message}` });
        }
      };
      runLock ??= await acquireDirLock(dataDir, "edge node sync loop");
      removeTransportChoice(dataDir);
      const current = connectTransport({
        gateway: options.gateway,
        timeouts: { requestMs: limits.requestTimeoutMs, connectMs: limits.quicConnectTimeoutMs, idleMs: limits.quicIdleTimeoutMs },
        ...(options.token !== undefined ? { token: options.token } : {}),
        notice: (message) => emit({ kind: "notice", message }),
        onChoice: save,
      });
      transport = current;
      save(current.choice());
      emit({ kind: "notice", message: `producer ${producer.id} syncing over ${current.description}` });
      loop = new SyncLoop({ outbox, pins: pinSync, transport: current, identity: producer, limits, rate: bucket, onEvent: emit });
      running = loop.run(runOptions?.once ?? false);
      try {
        await running;
      } finally {
        running = null;
        transport = null;
        await current.close();
      }
    },
    async stop() {
      loop?.stop();
      await running?.catch(() => undefined);
    },
    async close() {
      if (closed) return;
      await edge.stop();
      closed = true;
      database.close();
      runLock?.release();
    },
  };
  return edge;
}
