// The artefact side of the QUIC client as pullArtefact's chunk source: the latest ArtefactRef
// from the partitions' tails (stream-info, then fetch backwards), the manifest (manifest-get,
// its bytes checked against the id), and chunks on bulk streams (chunks-get), each one's length
// and BLAKE3 verified here, since the link is not trusted.
import { blake3 } from "../../core/hashing/blake3.ts";
import { StrataError } from "../../core/errors.ts";
import { bytesToHex } from "../../core/util/hex.ts";
import { decodeManifest, type Manifest } from "../../core/artefacts/manifest.ts";
import type { ArtefactRef, Value } from "../../core/log/record.ts";
import type { ChunkSource } from "../artefacts/chunk-source.ts";
import { HARD_LIMITS } from "../artefacts/limits.ts";
import type { LocatedArtefact } from "../artefacts/stream-api.ts";
import type { ExpectedChunk } from "../artefacts/verified-frames.ts";
import type { FetchedRecord, QuicClient, StreamInfo } from "./quic-client.ts";

const HEX = /^[0-9a-f]{64}$/;

function isRef(v: Value | undefined): v is ArtefactRef {
  return typeof v === "object" && v !== null && "kind" in v && v.kind === "artefact" && "manifest" in v && typeof v.manifest === "string";
}

type Partition = StreamInfo["partitions"][number];

async function latestInPartition(client: QuicClient, stream: string, field: string, p: Partition): Promise<LocatedArtefact | null> {
  let end = p.end_offset;
  const floor = Math.max(p.start_offset, p.end_offset - HARD_LIMITS.maxRecordsScannedPerPartition);
  while (end > floor) {
    const from = Math.max(floor, end - HARD_LIMITS.scanPageRecords);
    const page: FetchedRecord[] = [];
    let offset = from;
    while (offset < end) {
      const answer = await client.fetch({ stream, partition: p.partition, offset, max_records: end - offset, fields: [field] });
      if (answer.next_offset <= offset) break; // retention removed the range
      page.push(...answer.records.filter((r) => r.offset < end));
      offset = answer.next_offset;
    }
    for (let i = page.length - 1; i >= 0; i--) {
      const r = page[i]!;
      // A tombstone (null fields) carries no artefact: the search goes on to older records.
      const ref = r.fields?.[field];
      if (isRef(ref)) return { ref, partition: p.partition, offset: r.offset, timestamp: r.timestamp };
    }
    end = from;
  }
  return null;
}

export function quicChunkSource(client: QuicClient, description: string): ChunkSource {
  return {
    description,
    async latest(stream, field) {
      const info = await client.streamInfo(stream);
      const found = await Promise.all(info.partitions.filter((p) => p.end_offset > p.start_offset).map((p) => latestInPartition(client, stream, field, p)));
      let best: LocatedArtefact | null = null;
      for (const f of found) if (f && (!best || f.timestamp > best.timestamp || (f.timestamp === best.timestamp && f.partition > best.partition))) best = f;
      if (!best) throw new StrataError("NOT_FOUND", `stream ${stream} has no record with an artefact in field '${field}'`);
      return best;
    },
    async manifest(id): Promise<{ manifest: Manifest; bytes: Uint8Array }> {
      if (!HEX.test(id)) throw new StrataError("BAD_REQUEST", `artefact id must be 64 lowercase hex characters, got ${id}`);
      const bytes = await client.getManifest(id);
      if (bytes.length > HARD_LIMITS.maxManifestBytes) throw new StrataError("PAYLOAD_TOO_LARGE", `manifest ${id} is ${bytes.length} bytes; the limit is ${HARD_LIMITS.maxManifestBytes}`);
      if (bytesToHex(blake3(bytes)) !== id) throw new StrataError("HASH_MISMATCH", `manifest-get ${id}: the bytes do not hash to the id`);
      return { manifest: decodeManifest(bytes, { maxChunkBytes: HARD_LIMITS.maxChunkBytes, maxManifestBytes: HARD_LIMITS.maxManifestBytes }), bytes };
    },
    async chunks(expected: readonly ExpectedChunk[], onChunk, signal) {
      signal.throwIfAborted();
      const chunks = client.getChunks(expected.map((e) => e.hash));
      // An abort stops waiting at once; the bulk stream is cancelled when the generator resumes
      // or the connection closes (the edge closes it on stop()).
      let onAbort: () => void = () => undefined;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
      });
      aborted.catch(() => undefined);
      try {
        for (let index = 0; ; index++) {
          const next = await Promise.race([chunks.next(), aborted]);
          if (next.done) break;
          const chunk = next.value;
          const want = expected[index]!;
          if (chunk.data.length !== want.length) throw new StrataError("CORRUPT_DATA", `chunk ${bytesToHex(want.hash)}: ${chunk.data.length} bytes, the manifest says ${want.length}`);
          if (bytesToHex(blake3(chunk.data)) !== bytesToHex(want.hash)) throw new StrataError("HASH_MISMATCH", `chunk ${bytesToHex(want.hash)}: its bytes do not hash to it`);
          await onChunk(index, chunk.data);
        }
      } catch (e) {
        void chunks.return(undefined).catch(() => undefined);
        throw e;
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    },
  };
}
