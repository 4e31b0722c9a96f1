// The typed API of the native UCX path (native/ucx.ts loads the addon and implements it).
// Callers (the gateway's UCX server, `strata pull --via ucx://`, the dataset reader) import only
// this file and native/ucx.ts. Every failure is a StrataError:
//   UCX_UNAVAILABLE       the addon or libucp is missing, or the endpoint/worker is closed or the
//                         peer went away (connection reset, timeout): fall back to HTTP;
//                         A get to a peer without a one-sided path (another host, or no shared
//                         memory or cma on either side: getsVia "none") rejects with it at once;
//   UCX_TRANSFER_FAILED   UCX reported an error for one operation (the message names the status);
//   BAD_REQUEST           a get outside the local region, or a remote key that does not parse
//                         (wrong magic, length or checksum) or lies outside the advertised region;
//   PAYLOAD_TOO_LARGE     a message over maxMessageBytes (sender side: rejected before sending;
//                         receiver side: the receive rejects and the endpoint is closed, because
//                         the stream cannot be resynchronised after an oversized frame);
//   INSUFFICIENT_STORAGE  allocate/register over maxRegisteredBytes;
//   UNAVAILABLE           more operations outstanding than the ring holds, or over maxEndpoints.

/** Bounds of one worker, validated at createWorker (defaults in native/ucx-limits.ts). */
export interface UcxLimits {
  /** Largest message send/receive carries (the frame's body; the 4-byte length prefix is extra). */
  readonly maxMessageBytes: number;
  /** Sum of the lengths of all live regions (allocate + register) of the worker. */
  readonly maxRegisteredBytes: number;
  /** Completion ring entries; the ring can never overflow because outstanding operations and endpoints are bounded by it. */
  readonly ringCapacity: number;
  /** Endpoints open at once (accepted + connected, plus one per connection whose gets use a worker-address endpoint); connection requests over it are rejected. */
  readonly maxEndpoints: number;
}

export interface UcxWorkerOptions {
  /** UCX_TLS for this worker's context (e.g. "tcp", "posix,cma,tcp"); default: UCX's choice (or $UCX_TLS). */
  readonly transports?: string;
  readonly limits?: Partial<UcxLimits>;
  /**
   * UCX_TLS of the context that maps regions and carries gets. Default: the shared-memory and cma
   * transports among `transports` (posix, sysv, cma), never tcp (UCX's software RMA over tcp checks
   * no remote key). Set it ONLY to transports whose NIC enforces keys (InfiniBand/RoCE verbs: rc,
   * dc, ud): then peers on other hosts get over it too. Not tested here (no RDMA NIC); tcp is refused.
   */
  readonly rmaTransports?: string;
  /** Nanoseconds to keep progressing after a post before sleeping on the wake (0 to 10 ms; default: native/ucx-worker.ts SPIN_NS). For measurement. */
  readonly spinNs?: number;
}

export type UcxLoad = { readonly available: true; readonly ucx: Ucx } | { readonly available: false; readonly reason: string };

export interface Ucx {
  /** libucp's version, e.g. "1.13.1". */
  readonly version: string;
  /**
   * A worker with its own UCP context (UCS_THREAD_MODE_SINGLE, progressed from the JavaScript
   * thread). One per process is the intended use; tests run two in one process.
   */
  createWorker(options?: UcxWorkerOptions): UcxWorker;
}

export interface UcxWorker {
  readonly limits: UcxLimits;
  /** Listens on host:port (port 0 = ephemeral); onEndpoint gets each accepted endpoint. Keeps the process alive until closed. */
  listen(host: string, port: number, onEndpoint: (ep: UcxEndpoint) => void): Promise<UcxListener>;
  /** Resolves once the connection is wired up; rejects with UCX_UNAVAILABLE when nobody answers. */
  connect(host: string, port: number): Promise<UcxEndpoint>;
  /** ucp_mem_map'd memory (shared-memory transports can map it directly: the fastest get source). */
  allocate(length: number): UcxRegion;
  /** Registers existing memory; the region keeps `bytes` referenced until release(). */
  register(bytes: Uint8Array): UcxRegion;
  /** Closes every endpoint and listener, releases every region, then destroys the worker. */
  close(): Promise<void>;
}

export interface UcxListener {
  readonly port: number;
  close(): Promise<void>;
}

export interface UcxRegion {
  /** The region's memory; after release() of an allocated region this view is detached (length 0). */
  readonly bytes: Uint8Array;
  /** The address remote peers pass to get (the start of bytes). */
  readonly address: bigint;
  /**
   * The packed remote key to send to peers: Strata's framing (magic, base address, length,
   * checksum) around UCX's packed rkey, so a peer rejects a corrupt key or an out-of-region get
   * before UCX sees it.
   */
  readonly rkey: Uint8Array;
  readonly length: number;
  /** Unregisters (and for allocate, frees) the region; gets by peers fail afterwards. Idempotent. */
  release(): void;
}

export interface UcxEndpoint {
  /** A framed message on this endpoint's UCP stream (ordered, per endpoint), at most maxMessageBytes. */
  send(message: Uint8Array): Promise<void>;
  /**
   * The next message, in order; rejects with UCX_UNAVAILABLE once the endpoint is closed or the peer
   * is gone. maxBytes (optional, at most maxMessageBytes): a smaller bound for this message, so a
   * server that sends large answers need not accept large requests (over it: PAYLOAD_TOO_LARGE, the
   * endpoint closes).
   */
  receive(maxBytes?: number): Promise<Uint8Array>;
  /**
   * One-sided read of `length` bytes at remoteAddress (inside the region described by rkey) into
   * into.bytes[offset, offset + length).
   */
  get(into: UcxRegion, offset: number, length: number, remoteAddress: bigint, rkey: Uint8Array): Promise<void>;
  /**
   * Which UCX endpoint this connection's gets use: "worker address" (a second endpoint to a
   * same-host peer's RMA worker, over shared memory or cma), "none" (no one-sided path between
   * the two: another host, no shared memory or cma on either side, or the lane failed; gets reject
   * with UCX_UNAVAILABLE, so send the bytes as messages), "pending" before the hello or the first
   * get. The connection itself (socket address, tcp) never carries gets. Both sides agree on "none"
   * once the hello is exchanged (before onEndpoint / connect resolves), barring a later lane failure.
   * "socket address" is no longer reported (kept in the type for callers that compare against it).
   */
  readonly getsVia?: "pending" | "worker address" | "socket address" | "none";
  /** Flushes outstanding operations and disconnects; idempotent. */
  close(): Promise<void>;
  /** Settles (never rejects) when the peer goes away or close() is called, with the reason. */
  readonly closed: Promise<string>;
}
