// What the sync loop needs from a connection to the gateway. HTTP implements it now
// (edge/transports/http.ts), and so does QUIC (edge/transports/quic.ts), HTTP beside it.
import type { ArtefactRef, ProducerRef } from "../../core/log/record.ts";
import type { ByteRate } from "../artefacts/chunk-source.ts";
import type { EncodedRecords } from "../records.ts";

export interface RecordPosition {
  readonly partition: number;
  readonly offset: number;
}

export interface PublishAck {
  /** Where each record landed, in request order (a retried seq gets its original positions). */
  readonly positions: readonly RecordPosition[];
  /** Bytes of the request and of the answer, as counted against the bandwidth limit. */
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

export interface LatestArtefact {
  readonly ref: ArtefactRef;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
}

export interface PullRequest {
  /** Artefact id (the manifest's BLAKE3, 64 hex characters). */
  readonly artefact: string;
  /** Where the artefact goes; replaced atomically (temporary file, fsync, rename). */
  readonly out: string;
  readonly cacheDir: string;
  readonly cacheMaxBytes: number;
  /** Chunk bytes per second, 0 for no limit. */
  readonly maxBytesPerSecond: number;
  /** The edge's shared pace (its one token bucket); downloaded chunk bytes are taken from it. */
  readonly rate?: ByteRate;
  /** Aborts the pull (stop()): the temporary file is removed and `out` left as it was. */
  readonly signal?: AbortSignal;
}

export type TransportKind = "quic" | "http";

/** Which transport carries what, and the last measurement behind the bulk choice. */
export interface TransportChoice {
  readonly publish: TransportKind;
  readonly bulk: TransportKind;
  readonly measured: {
    /** Chunk download rate measured over each transport, MB/s (10^6 bytes), null when not measured. */
    readonly quic_mbps: number | null;
    readonly http_mbps: number | null;
    /** When (ms since the epoch), null when never. */
    readonly at: number | null;
    /** Why the bulk transport is what it is. */
    readonly reason: string;
  };
}

export interface PullResult {
  readonly artefact: string;
  readonly size: number;
  readonly bytesTransferred: number;
}

export interface SyncTransport {
  /** e.g. "http http://10.0.0.1:7070", for status and logs. */
  readonly description: string;
  /** Publishes encoded records as one idempotent request `(producer.id, epoch, seq)`. */
  publish(stream: string, producer: ProducerRef, records: EncodedRecords, signal: AbortSignal): Promise<PublishAck>;
  /** Creates the stream (one partition) unless it exists. */
  createStream(stream: string): Promise<void>;
  /** The newest ArtefactRef in field `field` of `stream`; null when the stream or such a record does not exist. */
  fetchLatestArtefactRef(stream: string, field: string): Promise<LatestArtefact | null>;
  /** Downloads the chunks of `artefact` missing from the cache, verified, into `out`. */
  pull(request: PullRequest): Promise<PullResult>;
  /** The current choice of transports (for status). */
  choice(): TransportChoice;
  close(): Promise<void>;
}
