// Stable error codes. Every failure that crosses a process boundary carries one of these;
// transports map them to an HTTP status or a QUIC error frame.

export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  /** A tensor whose dtype is unknown or whose data length is not product(shape) x element size. */
  INVALID_TENSOR: 400,
  /** No token, or one that is malformed, badly signed, expired or revoked. */
  UNAUTHENTICATED: 401,
  /** A valid token whose scopes do not allow the action on this stream. */
  FORBIDDEN: 403,
  INVALID_STREAM_NAME: 400,
  INVALID_OFFSET: 400,
  /** A CEL filter expression that does not parse or type-check, or is over the size or work bounds; the message gives the position. */
  BAD_FILTER: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  STREAM_NOT_FOUND: 404,
  PARTITION_NOT_FOUND: 404,
  NOT_FOUND: 404,
  STREAM_EXISTS: 409,
  OBJECT_EXISTS: 409,
  /** Another process (a gateway, or an edge node's sync loop) holds the data directory's lock. */
  DATA_DIR_IN_USE: 409,
  OFFSET_OUT_OF_RANGE: 416,
  RECORD_TOO_LARGE: 413,
  BATCH_TOO_LARGE: 413,
  PAYLOAD_TOO_LARGE: 413,
  SEQUENCE_GAP: 409,
  PRODUCER_FENCED: 409,
  /** A consumer-group commit or heartbeat from a member whose epoch is not the group's current one for it (a rebalance moved on). */
  STALE_MEMBER_EPOCH: 409,
  /** A heartbeat or leave naming a member the group does not have (expired, or never joined): rejoin without an epoch. */
  UNKNOWN_MEMBER: 404,
  MISSING_CHUNKS: 409,
  /** A checkpoint rank commit that disagrees with what the checkpoint already holds (another step or world size, or another artefact for the same rank). */
  CHECKPOINT_CONFLICT: 409,
  /** A gradient contribution whose tensor names, shapes or dtypes differ from the step's first contribution. */
  TENSOR_MISMATCH: 400,
  /** A gradient contribution for a (stream, step, rank) that already has an accepted one with a different payload. */
  GRADIENT_CONFLICT: 409,
  /** The native UCX path is not available here (no libucp or no built addon): use HTTP. */
  UCX_UNAVAILABLE: 503,
  /** A UCX operation (send, receive, get) failed on a live endpoint; the message names the UCX status. */
  UCX_TRANSFER_FAILED: 502,
  /** A record without a key published to a compacted stream (compaction keeps the latest record per key); the message names the record. */
  KEY_REQUIRED: 400,
  /** A publish that would give a compacted stream's latest-per-key index more keys than compaction.maxLatestKeys; nothing was written. */
  TOO_MANY_KEYS: 400,
  /** A client-built batch (application/vnd.strata.batch) whose header, CRC, record framing or counts do not hold; nothing was written. */
  BAD_BATCH: 400,
  /** An artefact id prefix that matches more than one version of the stream: give more hex digits. */
  AMBIGUOUS_ID: 409,
  /** A rollout change that its state forbids (another active rollout on the stream, a rollback of a finished one, ...). */
  ROLLOUT_CONFLICT: 409,
  CORRUPT_DATA: 422,
  INVALID_SAFETENSORS: 422,
  UNKNOWN_DTYPE: 422,
  HASH_MISMATCH: 422,
  /** The edge node's outbox is at its configured disk bound; nothing of the publish was stored. */
  OUTBOX_FULL: 507,
  /** The gateway's disk is full: nothing of the request was stored; appends resume once space is freed. */
  INSUFFICIENT_STORAGE: 507,
  STORAGE_ERROR: 503,
  /** Cluster mode: no gateway leads the partition right now (its lease is moving); nothing was written; retry. */
  NOT_LEADER: 503,
  /** Cluster mode: this gateway lost the partition's lease before the records were committed; nothing was acknowledged; retry. */
  LEASE_LOST: 503,
  /** The shared metadata database (a libSQL server) did not answer; nothing was changed; retry. */
  METADATA_UNAVAILABLE: 503,
  UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class StrataError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StrataError";
    this.code = code;
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export function isStrataError(e: unknown): e is StrataError {
  return e instanceof StrataError;
}

/** Asserted invariant: a failure here is a bug, never bad input. */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new StrataError("INTERNAL", `invariant violated: ${message}`);
}
