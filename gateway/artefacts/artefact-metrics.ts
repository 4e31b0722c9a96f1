// Metrics of the artefact subsystem, registered on the gateway's registry. Object-store bytes
// read and written are counted by the instrumented object store already.
import type { MetricsRegistry } from "../metrics.ts";

export function createArtefactMetrics(registry: MetricsRegistry) {
  return {
    chunksStored: registry.counter("strata_chunks_stored_total", "Chunks written into packs."),
    chunksDeduplicated: registry.counter("strata_chunks_deduplicated_total", "Chunks uploaded that the gateway already held."),
    chunkBytesStored: registry.counter("strata_chunk_bytes_stored_total", "Chunk bytes written into packs."),
    packsUploaded: registry.counter("strata_packs_uploaded_total", "Pack objects uploaded (by uploads and by GC rewrites)."),
    cacheHits: registry.counter("strata_chunk_cache_hits_total", "Reads served by a cache, per tier (chunk: verified chunks; memory, disk: pack blocks).", ["tier"]),
    cacheMisses: registry.counter("strata_chunk_cache_misses_total", "Pack block reads that went to the object store."),
    chunksServed: registry.counter("strata_chunks_served_total", "Chunks read, verified and sent."),
    chunksHashed: registry.counter("strata_chunks_hashed_total", "Chunks hashed on the read path: once per trip of their pack block into the caches, never per serve."),
    gcRuns: registry.counter("strata_artefact_gc_runs_total", "Artefact garbage collections run."),
    gcBytesReclaimed: registry.counter("strata_artefact_gc_reclaimed_bytes_total", "Pack bytes removed from the object store by GC."),
  };
}

export type ArtefactMetrics = ReturnType<typeof createArtefactMetrics>;
