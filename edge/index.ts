// `@strata-gw/strata/edge`: the edge node library. Publish offline into a local outbox, sync it to a gateway
// as an idempotent producer, keep pinned artefacts current on disk.
export { openEdge, type Edge, type EdgeEvent, type EdgeOptions, type EdgeStatus } from "./edge-node.ts";
export { DEFAULT_EDGE_LIMITS, type EdgeLimits } from "./limits.ts";
export type { EdgeRecord } from "./records.ts";
export type { PinState } from "./store/pins.ts";
export type { ProducerIdentity } from "./store/outbox.ts";
export type { PinCallback, PinUpdate } from "./sync/pin-sync.ts";
export type { SyncEvent } from "./sync/sync-loop.ts";
export type { GatewayAddress } from "./transports/connect.ts";
export type { LatestArtefact, PublishAck, PullRequest, PullResult, RecordPosition, SyncTransport } from "./transports/transport.ts";
