// Protocol bounds of the artefact client, which no option changes. Kept free of the validation
// library: the browser client needs only these. The tunable limits are in transfer-limits.ts.

const MiB = 1024 * 1024;

/** Bounds nothing may exceed, whatever the options say. */
export const HARD_LIMITS = {
  /** Largest chunk accepted from a gateway or a cache (the chunker's maximum is 256 KiB; the core allows up to 1 GiB chunks, the client does not). */
  maxChunkBytes: 64 * MiB,
  /** Largest manifest accepted from a gateway. */
  maxManifestBytes: 64 * MiB,
  /** Most requests in flight. */
  maxConcurrency: 64,
  /** Records read back from the end of one partition when looking for the latest artefact. */
  maxRecordsScannedPerPartition: 1000,
  /** Records per read while scanning back. */
  scanPageRecords: 100,
} as const;
