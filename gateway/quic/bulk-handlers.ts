// Bulk streams: one chunks-put or chunks-get per stream. A parsed request in, the artefact
// service called, the answer out; a chunks-get answer is a header frame then the chunk framing
// of /v1/chunks/get.
import type { FrameWriter } from "../../core/quic/frame-writer.ts";
import { checkCount, type BulkRequest } from "../../core/quic/messages.ts";
import { bytesToHex } from "../../core/util/hex.ts";
import type { ArtefactServices } from "../artefacts/artefacts.ts";

/** Runs the one request of a bulk stream; the caller ends or aborts the stream afterwards. */
export async function handleBulkRequest(artefacts: ArtefactServices, request: BulkRequest, writer: FrameWriter): Promise<void> {
  const service = artefacts.artefacts;
  switch (request.t) {
    case "chunks-put": {
      checkCount(request.chunks.length, service.limits.maxChunksPerRequest, "chunks");
      const result = await service.putChunks(request.chunks.map(([hash, data]) => ({ hash, data })));
      await writer.send({ t: "stored", stored: result.stored, existing: result.existing });
      return;
    }
    case "chunks-get": {
      checkCount(request.hashes.length, service.limits.maxHashesPerRequest, "hashes");
      const hashes = request.hashes.map(bytesToHex);
      // Every hash is located first: an unknown one is an error frame before any chunk byte.
      const stream = await service.getChunks(hashes);
      await writer.send({ t: "chunks", count: hashes.length });
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
  }
}
