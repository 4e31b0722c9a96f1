// `@strata-gw/strata/core`: the log model, codecs, hashing, chunking and tensor codecs. No I/O, except that
// plane compression uses node:zlib (Bun, Deno, Node).
export * from "./errors.ts";
export * from "./log/record.ts";
export { ARTEFACT_REF_EXT_TYPE, TENSOR_EXT_TYPE, extensionCodec, makeArtefactRef, makeTensor } from "./log/extensions.ts";
export { BATCH_HEADER_SIZE, decodeBatchRecords, encodeBatch, encodeRecord, readBatchHeader, type BatchHeader } from "./log/batch.ts";
export { murmur2, partitionForKey } from "./log/partitioner.ts";
export { assertStreamName, isValidStreamName, MAX_STREAM_NAME_LENGTH } from "./log/stream-name.ts";
export { base64ToBytes, bytesToBase64, fromJsonValue, toJsonValue } from "./log/json-value.ts";
export { parsePublishRequest, type PublishLimits, type PublishRequest } from "./log/publish-request.ts";
export { bytesToHex, hexToBytes } from "./util/hex.ts";
export { crc32c } from "./hashing/crc32c.ts";
export { blake3, blake3DeriveKey, blake3Hex, blake3Keyed, Blake3Hasher, BLAKE3_KEY_LEN, BLAKE3_OUT_LEN, type Blake3Input, type Blake3Options } from "./hashing/blake3.ts";
export { chunk, chunkBoundaries, chunkStream, createBoundaryChunker, createChunker, type Chunk, type ChunkBoundary, type ChunkerOptions, type StreamingChunker } from "./chunking/chunking.ts";
export { CHUNK_DEFAULTS } from "./chunking/chunking-params.ts";
export { gearTable } from "./chunking/chunking-kernel.ts";
export { decodeManifest, encodeManifest, manifestId, validateManifest, type Manifest, type ManifestChunk, type ManifestTensor } from "./artefacts/manifest.ts";
export * from "./tensors/tensor-types.ts";
export * from "./tensors/safetensors.ts";
export * from "./tensors/dtype.ts";
export * from "./tensors/quantize.ts";
export * from "./tensors/planes.ts";
export * from "./tensors/plane-compress.ts";
export { codecAvailable, compressBytes, decompressBytes, defaultCodec, type CodecName } from "./tensors/byte-codecs.ts";
