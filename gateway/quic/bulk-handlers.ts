// Bulk streams: one chunks-put or chunks-get per stream. Decode, call the artefact service,
// encode; a chunks-get answer is a header frame then the chunk framing of /v1/chunks/get.
import { StrataError } from "../../core/errors.ts";
import { bytesToHex } from "../../core/util/hex.ts";
import type { FrameWriter } from "../../core/quic/frame-writer.ts";
import type { Frame } from "../../core/quic/frames.ts";
import { FRAME, hashList } from "../../core/quic/messages.ts";
import type { ArtefactServices } from "../artefacts/artefacts.ts";
import type { ChunkUpload } from "../artefacts/chunk-store.ts";

function chunkList(v: unknown, maxChunks: number): ChunkUpload[] {
  if (!Array.isArray(v)) throw new StrataError("BAD_REQUEST", "chunks must be an array of [hash, data]");
  if (v.length > maxChunks) throw new StrataError("BATCH_TOO_LARGE", `${v.length} chunks; the limit is ${maxChunks} per frame`);
  return v.map((entry, i) => {
    if (!Array.isArray(entry) || entry.length !== 2 || !(entry[0] instanceof Uint8Array) || !(entry[1] instanceof Uint8Array)) {
      throw new StrataError("BAD_REQUEST", `chunks[${i}] must be [bin32 hash, bin data]`);
    }
    return { hash: entry[0], data: entry[1] };
  });
}

/** Runs the one request of a bulk stream; the caller ends or aborts the stream afterwards. */
export async function handleBulkFrame(artefacts: ArtefactServices, frame: Frame, writer: FrameWriter): Promise<void> {
  const service = artefacts.artefacts;
  switch (frame.t) {
    case FRAME.chunksPut: {
      const result = await service.putChunks(chunkList(frame.chunks, service.limits.maxChunksPerRequest));
      await writer.send({ t: FRAME.stored, stored: result.stored, existing: result.existing });
      return;
    }
    case FRAME.chunksGet: {
      const hashes = hashList(frame.hashes, "hashes", service.limits.maxHashesPerRequest).map(bytesToHex);
      // Every hash is located first: an unknown one is an error frame before any chunk byte.
      const stream = await service.getChunks(hashes);
      await writer.send({ t: FRAME.chunks, count: hashes.length });
      const reader = stream.getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          await writer.sendRaw([value]);
        }
      } finally {
        reader.cancel().catch(() => undefined);
      }
    }
    default:
      throw new StrataError("BAD_REQUEST", `unknown request type '${frame.t}' on a bulk stream`);
  }
}
