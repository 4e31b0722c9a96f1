// What the sync loop needs from a connection to the gateway. HTTP implements it now
// (edge/transports/http.ts); a QUIC client implements the same interface.
import type { ArtefactRef, ProducerRef } from "../../core/record.ts";
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
  close(): Promise<void>;
}
