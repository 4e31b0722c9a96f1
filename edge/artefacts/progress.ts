// What push and pull report while they run, and what they return.

export type TransferPhase = "resolving" | "scanning" | "uploading" | "downloading" | "publishing" | "done";

export interface TransferProgress {
  readonly phase: TransferPhase;
  /** The artefact's size (0 until known). */
  readonly bytesTotal: number;
  /** Push: bytes read and hashed. Pull: bytes written to the output (from the cache or the network). */
  readonly bytesDone: number;
  /**
   * Chunk bytes that have to cross the network: push, those of the chunks the gateway lacks as
   * found so far (complete once scanning is done); pull, those of the chunks the cache lacks.
   */
  readonly bytesToTransfer: number;
  /** Chunk bytes sent (push) or received (pull) so far. */
  readonly bytesTransferred: number;
  readonly chunksTransferred: number;
}

export type ProgressListener = (progress: TransferProgress) => void;

export interface TransferSummary {
  /** The artefact id: hex BLAKE3 of its manifest. */
  readonly artefact: string;
  readonly bytesTotal: number;
  /** Chunk payload bytes that crossed the network (protocol overhead not counted). */
  readonly bytesTransferred: number;
  /** Chunks in the manifest (a chunk repeated in the artefact counts each time). */
  readonly chunksTotal: number;
  /** Distinct chunks that crossed the network. */
  readonly chunksTransferred: number;
  readonly seconds: number;
}

/** The summary as the CLI prints it with --json. */
export function summaryJson(s: TransferSummary): Record<string, string | number> {
  return {
    artefact: s.artefact,
    bytes_total: s.bytesTotal,
    bytes_transferred: s.bytesTransferred,
    chunks_total: s.chunksTotal,
    chunks_transferred: s.chunksTransferred,
    seconds: Math.round(s.seconds * 1000) / 1000,
  };
}

/** Tracks counters and calls the listener (if any) with a snapshot. */
export class ProgressTracker {
  phase: TransferPhase = "resolving";
  bytesTotal = 0;
  bytesDone = 0;
  bytesToTransfer = 0;
  bytesTransferred = 0;
  chunksTransferred = 0;
  readonly #listener: ProgressListener | undefined;

  constructor(listener: ProgressListener | undefined) {
    this.#listener = listener;
  }

  emit(): void {
    this.#listener?.({
      phase: this.phase,
      bytesTotal: this.bytesTotal,
      bytesDone: this.bytesDone,
      bytesToTransfer: this.bytesToTransfer,
      bytesTransferred: this.bytesTransferred,
      chunksTransferred: this.chunksTransferred,
    });
  }

  set(phase: TransferPhase): void {
    this.phase = phase;
    this.emit();
  }
}
