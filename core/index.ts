// `strata/core`: the log model, codecs, hashing, chunking and tensor codecs. No I/O, except that
// plane compression uses node:zlib (Bun, Deno, Node).
export * from "./errors.ts";
export * from "./record.ts";
export { ARTEFACT_REF_EXT_TYPE, TENSOR_EXT_TYPE, extensionCodec, makeArtefactRef, makeTensor } from "./extensions.ts";
export { BATCH_HEADER_SIZE, decodeBatchRecords, encodeBatch, encodeRecord, readBatchHeader, type BatchHeader } from "./batch.ts";
export { murmur2, partitionForKey } from "./partitioner.ts";
export { assertStreamName, isValidStreamName, MAX_STREAM_NAME_LENGTH } from "./stream-name.ts";
export { base64ToBytes, bytesToBase64, fromJsonValue, toJsonValue } from "./json-value.ts";
export { parsePublishRequest, type PublishLimits, type PublishRequest } from "./publish-request.ts";
export { bytesToHex, hexToBytes } from "./hex.ts";
export { crc32c } from "./crc32c.ts";
export { blake3, blake3DeriveKey, blake3Hex, blake3Keyed, Blake3Hasher, BLAKE3_KEY_LEN, BLAKE3_OUT_LEN, type Blake3Input, type Blake3Options } from "./blake3.ts";
export { chunk, chunkBoundaries, chunkStream, createBoundaryChunker, createChunker, type Chunk, type ChunkBoundary, type ChunkerOptions, type StreamingChunker } from "./chunking.ts";
export { CHUNK_DEFAULTS } from "./chunking-params.ts";
export { gearTable } from "./chunking-kernel.ts";
export { decodeManifest, encodeManifest, manifestId, validateManifest, type Manifest, type ManifestChunk, type ManifestTensor } from "./manifest.ts";
export * from "./tensor-types.ts";
export * from "./safetensors.ts";
export * from "./dtype.ts";
export * from "./quantize.ts";
export * from "./planes.ts";
export * from "./plane-compress.ts";
export { codecAvailable, compressBytes, decompressBytes, defaultCodec, type CodecName } from "./byte-codecs.ts";
