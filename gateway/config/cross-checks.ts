// Checks between limits of different subsystems: a value each family accepts on its own can
// still make a request the gateway admits impossible to store, serve or carry. Each failure names
// both keys and their values.
import { BATCH_HEADER_SIZE } from "../../core/log/batch.ts";
import { StrataError } from "../../core/errors.ts";
import type { ArtefactLimits } from "../artefacts/artefact-limits.ts";
import type { StorageLimits } from "../log/storage-limits.ts";
import { QUIC_FRAME_ENVELOPE_BYTES, type QuicLimits } from "../quic/quic-limits.ts";
import type { ServiceLimits } from "../streams/service-limits.ts";

export interface GatewayLimits {
  readonly limits: ServiceLimits;
  readonly storage: StorageLimits;
  readonly artefacts: ArtefactLimits;
  readonly quic: QuicLimits;
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new StrataError("BAD_REQUEST", `gateway config: ${message}`);
}

export function checkLimitsAgree({ limits, storage, artefacts, quic }: GatewayLimits): void {
  check(
    storage.maxFetchBytes === limits.maxFetchBytes,
    `storage.maxFetchBytes (${storage.maxFetchBytes}) differs from limits.maxFetchBytes (${limits.maxFetchBytes}); reads have one bound: set limits.maxFetchBytes only`,
  );
  check(
    limits.maxRecordBytes <= limits.maxRequestBytes,
    `limits.maxRecordBytes (${limits.maxRecordBytes}) must be at most limits.maxRequestBytes (${limits.maxRequestBytes}): a record must fit a request`,
  );
  check(
    limits.maxRecordBytes + BATCH_HEADER_SIZE <= storage.maxBatchBytes,
    `limits.maxRecordBytes (${limits.maxRecordBytes}) + the ${BATCH_HEADER_SIZE}-byte batch header must be at most storage.maxBatchBytes (${storage.maxBatchBytes}): a record must fit a batch`,
  );
  check(
    limits.maxRecordBytes + QUIC_FRAME_ENVELOPE_BYTES <= quic.maxFrameBytes,
    `limits.maxRecordBytes (${limits.maxRecordBytes}) + ${QUIC_FRAME_ENVELOPE_BYTES} bytes of frame envelope must be at most quic.maxFrameBytes (${quic.maxFrameBytes}): a record must fit a QUIC publish and fetch frame`,
  );
  check(
    artefacts.maxChunkBytes + QUIC_FRAME_ENVELOPE_BYTES <= quic.maxFrameBytes,
    `artefacts.maxChunkBytes (${artefacts.maxChunkBytes}) + ${QUIC_FRAME_ENVELOPE_BYTES} bytes of frame envelope must be at most quic.maxFrameBytes (${quic.maxFrameBytes}): a chunk must fit a QUIC bulk frame`,
  );
}
