// The gateway's one configuration: defaults, derived values, and start-up failures that name the
// key, the value and the allowed range, for each family and for the checks between them.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { StrataError } from "../../core/errors.ts";
import { resolveGatewayConfig, type GatewayConfig } from "../../gateway/config/gateway-config.ts";
import { openGateway } from "../../gateway/gateway.ts";
import { DEFAULT_STORAGE_LIMITS, resolveLimits, STORAGE_LIMITS, type StorageLimits } from "../../gateway/log/storage-limits.ts";
import { DEFAULT_QUIC_LIMITS } from "../../gateway/quic/quic-limits.ts";
import { DEFAULT_SERVICE_LIMITS } from "../../gateway/streams/service-limits.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";

const MiB = 1024 * 1024;

/** The message of the BAD_REQUEST that resolving `input` throws. */
function refused<T>(resolve: (input: T) => unknown, input: T): string {
  try {
    resolve(input);
  } catch (e) {
    if (e instanceof StrataError && e.code === "BAD_REQUEST") return e.message;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

const refusal = (config: GatewayConfig): string => refused(resolveGatewayConfig, config);
const engineRefusal = (overrides: Partial<StorageLimits>): string => refused(resolveLimits, overrides);

/** A configuration object as it might come from a file: not checked by the compiler. */
function untyped(json: string): GatewayConfig {
  return JSON.parse(json);
}

describe("defaults and derived values", () => {
  const config = resolveGatewayConfig({ dataDir: "some/dir" });

  test("every family's defaults, an absolute data directory, the embedded database under it", () => {
    expect(config.limits).toEqual(DEFAULT_SERVICE_LIMITS);
    expect(config.quic).toEqual(DEFAULT_QUIC_LIMITS);
    expect(config.storage).toEqual({ ...DEFAULT_STORAGE_LIMITS, maxFetchBytes: DEFAULT_SERVICE_LIMITS.maxFetchBytes });
    expect(config.dataDir.startsWith("/")).toBe(true);
    expect(config.dbUrl).toBe(`file:${join(config.dataDir, "strata.db")}`);
    expect(config.http.corsOrigins).toEqual([]);
  });

  test("the storage engine's read bound is the service's", () => {
    expect(config.storage.maxFetchBytes).toBe(config.limits.maxFetchBytes);
    const raised = resolveGatewayConfig({ dataDir: "d", limits: { maxFetchBytes: 32 * MiB } });
    expect(raised.storage.maxFetchBytes).toBe(32 * MiB);
  });

  test("HTTP body cap, idle timeout and decoder caps follow the limits they derive from", () => {
    expect(config.http.maxBodyBytes).toBe(64 * MiB);
    expect(config.http.idleTimeoutSeconds).toBe(60);
    expect(config.http.decoders.records).toMatchObject({ maxBinLength: 64 * MiB, maxStrLength: 64 * MiB, maxArrayLength: 64 * MiB, maxMapLength: 32 * MiB, maxDepth: 36 });
    expect(config.http.decoders.hashes.maxBinLength).toBe(config.artefacts.maxHashRequestBytes);
    expect(config.http.decoders.chunks.maxBinLength).toBe(config.artefacts.maxChunkRequestBytes);
    const small = resolveGatewayConfig({ dataDir: "d", limits: { maxRequestBytes: MiB, maxRecordBytes: 64 * 1024, maxWaitMs: 90_000 }, artefacts: { maxChunkRequestBytes: 2 * MiB, maxManifestBytes: MiB, maxHashRequestBytes: MiB, maxHashesPerRequest: 1000 } });
    expect(small.http.maxBodyBytes).toBe(2 * MiB);
    expect(small.http.idleTimeoutSeconds).toBe(120);
    expect(small.http.decoders.records.maxBinLength).toBe(MiB);
  });
});

describe("a bad configuration is refused naming the key, the value and the range", () => {
  test("each family", () => {
    expect(refusal({ dataDir: "d", limits: { maxRequestBytes: 0 } })).toBe("gateway config: limits.maxRequestBytes = 0 is out of range: an integer number of bytes in [1 KiB, 1 GiB]");
    expect(refusal({ dataDir: "d", storage: { groupCommitMs: 90_000 } })).toBe("gateway config: storage.groupCommitMs = 90000 is out of range: an integer number of milliseconds in [0 ms, 1 min]");
    expect(refusal({ dataDir: "d", artefacts: { gcRewriteMinDeadFraction: 2 } })).toBe("gateway config: artefacts.gcRewriteMinDeadFraction = 2 is out of range: a number in [0, 1]");
    expect(refusal({ dataDir: "d", quic: { maxInFlight: 1.5 } })).toBe("gateway config: quic.maxInFlight = 1.5 is out of range: an integer count in [1, 4,096]");
  });

  test("unknown keys, wrong types and several problems at once", () => {
    expect(refusal(untyped('{"dataDir": "d", "limits": {"maxRequestByte": 5}}'))).toBe("gateway config: limits.maxRequestByte is not a known limit");
    expect(refusal(untyped('{"dataDir": "d", "limit": {}}'))).toBe("gateway config: limit is not a configuration key");
    expect(refusal(untyped('{"dataDir": "d", "limits": {"maxWaitMs": "30s"}}'))).toBe('gateway config: limits.maxWaitMs = "30s" is out of range: an integer number of milliseconds in [0 ms, 2 min]');
    expect(refusal(untyped('{"dataDir": ""}'))).toContain("gateway config: dataDir:");
    expect(refusal({ dataDir: "d", s3: { bucket: "" } })).toContain("gateway config: s3.bucket:");
    expect(refusal({ dataDir: "d", s3: { bucket: "b", endpoint: "not a url" } })).toContain("gateway config: s3.endpoint:");
    expect(refusal({ dataDir: "d", corsOrigins: ["http://localhost:8080/"] })).toBe("gateway config: corsOrigins[0]: must be an origin like http://localhost:8080");
    const both = refusal({ dataDir: "d", limits: { maxStreams: 0 }, quic: { maxBulkStreams: 0 } });
    expect(both).toContain("limits.maxStreams = 0");
    expect(both).toContain("quic.maxBulkStreams = 0");
  });

  test("checks between families name both keys", () => {
    expect(refusal({ dataDir: "d", storage: { maxFetchBytes: 32 * MiB } })).toBe(
      `gateway config: storage.maxFetchBytes (${32 * MiB}) differs from limits.maxFetchBytes (${16 * MiB}); reads have one bound: set limits.maxFetchBytes only`,
    );
    expect(refusal({ dataDir: "d", limits: { maxRequestBytes: MiB } })).toContain("limits.maxRecordBytes (8388608) must be at most limits.maxRequestBytes (1048576)");
    expect(refusal({ dataDir: "d", storage: { maxBatchBytes: 8 * MiB } })).toContain("storage.maxBatchBytes (8388608): a record must fit a batch");
    expect(refusal({ dataDir: "d", quic: { maxFrameBytes: 8 * MiB } })).toContain("quic.maxFrameBytes (8388608): a record must fit a QUIC publish and fetch frame");
    expect(refusal({ dataDir: "d", limits: { maxRecordBytes: 64 * 1024 }, artefacts: { maxChunkBytes: MiB }, quic: { maxFrameBytes: MiB } })).toContain("artefacts.maxChunkBytes (1048576)");
    expect(refusal({ dataDir: "d", artefacts: { maxChunkBytes: 2 * MiB, packMaxBytes: MiB } })).toContain("gateway config: artefact limits: packMaxBytes");
    expect(refusal({ dataDir: "d", artefacts: { maxHashesPerRequest: 1_000_000 } })).toContain("maxHashRequestBytes (8388608) must hold maxHashesPerRequest (1000000)");
    expect(refusal({ dataDir: "d", storage: { segmentBytes: 4 * MiB } })).toContain("gateway config: storage limits: segmentBytes must be >= maxBatchBytes");
    expect(refusal({ dataDir: "d", limits: { maxFetchBytes: MiB } })).toBe(`gateway config: limits.defaultFetchBytes (${4 * MiB}) must be at most limits.maxFetchBytes (${MiB})`);
    expect(refusal({ dataDir: "d", limits: { defaultFetchRecords: 20_000 } })).toContain("limits.defaultFetchRecords (20000) must be at most limits.maxFetchRecords (10000)");
  });

  test("a lower record limit makes smaller frames and batches acceptable", () => {
    const config = resolveGatewayConfig({ dataDir: "d", limits: { maxRecordBytes: 512 * 1024 }, storage: { maxBatchBytes: MiB, segmentBytes: 4 * MiB }, artefacts: { maxChunkBytes: 256 * 1024 }, quic: { maxFrameBytes: MiB } });
    expect(config.quic.maxFrameBytes).toBe(MiB);
  });

  test("openGateway refuses before it creates or opens anything", async () => {
    const parent = tempDir("strata-config-");
    const dataDir = join(parent, "never");
    try {
      await expect(openGateway({ dataDir, limits: { maxPartitions: 0 } })).rejects.toThrow("gateway config: limits.maxPartitions = 0 is out of range: an integer count in [1, 65,536]");
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      removeDir(parent);
    }
  });
});

describe("the storage engine's limits: one declaration for the engine and the configuration", () => {
  test("the engine's defaults are the declaration's, and the configuration's storage defaults too", () => {
    expect(resolveLimits()).toEqual(STORAGE_LIMITS.defaults);
    expect(DEFAULT_STORAGE_LIMITS).toBe(STORAGE_LIMITS.defaults);
    expect(resolveLimits({ segmentMs: undefined })).toEqual(DEFAULT_STORAGE_LIMITS);
  });

  test("resolveLimits refuses a value out of its declared range in the shared form, as the configuration does", () => {
    expect(engineRefusal({ maxOffsetWaiters: 0 })).toBe("storage.maxOffsetWaiters = 0 is out of range: an integer count in [1, 1,000,000]");
    expect(engineRefusal({ uploadPartBytes: MiB })).toBe("storage.uploadPartBytes = 1048576 is out of range: an integer number of bytes in [5 MiB, 5 GiB]");
    expect(engineRefusal({ walWritesInFlight: 65 })).toContain("storage.walWritesInFlight = 65 is out of range");
    expect(refusal({ dataDir: "d", storage: { walWritesInFlight: 65 } })).toBe(`gateway config: ${engineRefusal({ walWritesInFlight: 65 })}`);
  });

  test("resolveLimits keeps the engine's checks between limits", () => {
    expect(engineRefusal({ segmentBytes: 4 * MiB })).toBe("storage limits: segmentBytes must be >= maxBatchBytes");
    expect(engineRefusal({ groupCommitBytes: 16 * MiB })).toBe("storage limits: groupCommitMaxBytes must be >= groupCommitBytes");
    expect(engineRefusal({ maxPendingBytes: 8 * MiB })).toBe("storage limits: maxPendingBytes must be >= maxBatchBytes");
    expect(engineRefusal({ maxUnuploadedBytes: 32 * MiB })).toBe("storage limits: maxUnuploadedBytes must be >= segmentBytes");
  });
});
