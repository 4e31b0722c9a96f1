// A delta upload (POST /v1/artefacts?basis=…&block_size=…): the new file is rebuilt as a stream
// from the body's frames (ranges of the basis artefact and literal bytes) and fed through the
// same chunker, hashing and chunk store as a raw upload, so its id is the one a raw upload of
// the same bytes gets. Only the literals cross the wire. Every frame is checked before any of its
// bytes reach the chunker; a refused upload stores no manifest (chunks of earlier batches, if the
// body was larger than one batch, are left unreferenced to GC, as for a broken raw upload).
import { StrataError } from "../../core/errors.ts";
import type { ArtefactService } from "./artefact-service.ts";
import type { ArtefactUpload, UploadResult } from "./artefact-upload.ts";
import { BlockHasher, blockCount, checkBlockSize, type BlockDigestIndex } from "./block-digests.ts";
import { deltaFrames } from "./delta-frames.ts";
import { streamPieces } from "./stream-pieces.ts";

export interface DeltaUploadRequest {
  readonly basis: string;
  readonly blockSize: number;
  readonly body: AsyncIterable<Uint8Array>;
  readonly mediaType: string;
  readonly signal?: AbortSignal;
}

export interface DeltaUploadResult extends UploadResult {
  /** Bytes of the request body: the frames, what crossed the wire. */
  readonly wireBytes: number;
}

export class ArtefactDelta {
  readonly #artefacts: ArtefactService;
  readonly #uploads: ArtefactUpload;
  readonly #digests: BlockDigestIndex;

  constructor(artefacts: ArtefactService, uploads: ArtefactUpload, digests: BlockDigestIndex) {
    this.#artefacts = artefacts;
    this.#uploads = uploads;
    this.#digests = digests;
  }

  async upload(request: DeltaUploadRequest): Promise<DeltaUploadResult> {
    const limits = this.#uploads.limits;
    checkBlockSize(limits, request.blockSize);
    // Before the body is read: an unknown basis is NOT_FOUND, nothing stored.
    const basis = await this.#artefacts.info(request.basis);
    checkBlockSize(limits, request.blockSize, basis.size);
    const blocks = blockCount(basis.size, request.blockSize);
    let wireBytes = 0;
    const frames = deltaFrames(request.body, {
      maxLiteralBytes: limits.deltaMaxBlockBytes,
      onBytes: (n) => {
        wireBytes = n;
        if (n > limits.maxUploadBytes) throw new StrataError("PAYLOAD_TOO_LARGE", `the delta body is larger than ${limits.maxUploadBytes} bytes (artefacts.maxUploadBytes)`);
      },
    });
    const artefacts = this.#artefacts;
    // The new file's block digests, hashed as it is rebuilt (sha256 is cheap beside chunking): it is
    // the basis of the next checkpoint, whose digests are then answered without reading it again.
    const hasher = new BlockHasher(request.blockSize, "sha256");
    async function* rebuilt(): AsyncGenerator<Uint8Array> {
      for await (const op of frames) {
        if (op.kind === "literal") {
          hasher.update(op.bytes);
          yield op.bytes;
          continue;
        }
        if (op.index + op.count > blocks) {
          throw new StrataError("BAD_REQUEST", `delta frame ${op.frame} (body byte ${op.at}): copy of blocks [${op.index}, ${op.index + op.count}) is out of range: the basis has ${blocks} blocks of ${request.blockSize} bytes`);
        }
        const start = op.index * request.blockSize;
        const end = Math.min(basis.size, (op.index + op.count) * request.blockSize);
        const { stream } = await artefacts.read(request.basis, start, end);
        for await (const piece of streamPieces(stream)) {
          hasher.update(piece);
          yield piece;
        }
      }
    }
    const result = await this.#uploads.upload({ body: rebuilt(), mediaType: request.mediaType, ...(request.signal ? { signal: request.signal } : {}) });
    const digests = hasher.end();
    if (blockCount(result.size, request.blockSize) <= limits.deltaMaxBlocks) this.#digests.remember({ basis: result.id, size: result.size, blockSize: request.blockSize, algorithm: "sha256", digests });
    return { ...result, wireBytes };
  }
}
