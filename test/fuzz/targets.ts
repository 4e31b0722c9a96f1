// Every decoder that reads network or disk bytes, as a fuzz target: an input arbitrary (valid
// encodings with mutations, and raw bytes) and a decode function that runs the same steps the
// gateway, the edge or the storage engine runs on those bytes. Shared by test/fuzz/decoders.test.ts
// (a sample) and bench/fuzz.ts (a million inputs).
import fc from "fast-check";
import { crc32c } from "../../core/hashing/crc32c.ts";
import { CHUNK_HASH_BYTES, decodeManifest, encodeManifest, type Manifest, type ManifestTensor } from "../../core/artefacts/manifest.ts";
import { ChunkFrameParser, encodeFrameHeader } from "../../core/artefacts/chunk-frames.ts";
import { decodeBatchRecords, encodeBatch, encodeRecord, readBatchHeader, scanBatchRecords } from "../../core/log/batch.ts";
import { fromJsonFields, fromJsonValue, toJsonValue } from "../../core/log/json-value.ts";
import { BoundedMsgpackDecoder, msgpackCapsFor } from "../../core/log/msgpack-bounds.ts";
import { DEFAULT_PUBLISH_LIMITS, publishBodySchema, toPublishRequest, type BodyForm, type PublishRequest } from "../../core/log/publish-request.ts";
import { decodeFramePayload, FrameDecoder, frameHeader, MAX_HELLO_FRAME_BYTES } from "../../core/quic/frames.ts";
import { parseMessage } from "../../core/quic/messages.ts";
import { parseSafetensorsHeader, readSafetensors, writeSafetensors, type TensorInput } from "../../core/tensors/safetensors.ts";
import { DTYPE_SIZE } from "../../core/tensors/tensor-types.ts";
import { StrataError } from "../../core/errors.ts";
import { parseInput } from "../../core/util/parse-input.ts";
import { bytesLike, concat, deepValue, edgeNumber, encodeMsgpackValue, fieldsValue, jsonishValue, logValue, splitAt, splitPoints } from "./arbitraries.ts";
import { PropertyViolation } from "./outcome.ts";

interface DecoderTarget<I> {
  readonly name: string;
  /** What the decoder reads, in the words of the issue. */
  readonly reads: string;
  readonly input: fc.Arbitrary<I>;
  /** Runs the decoder on `input`; a refusal is a thrown StrataError, a broken property a PropertyViolation. */
  decode(input: I): void;
}

/** One generated input and the decoding of it (fast-check prints `input` when a case fails). */
export interface FuzzCase {
  readonly input: unknown;
  run(): void;
}

/** A decoder target with its input type closed over, so targets of different inputs share one list. */
export interface FuzzTarget {
  readonly name: string;
  readonly reads: string;
  readonly cases: fc.Arbitrary<FuzzCase>;
}

function target<I>(t: DecoderTarget<I>): FuzzTarget {
  return { name: t.name, reads: t.reads, cases: t.input.map((input) => ({ input, run: () => t.decode(input) })) };
}

/** The gateway's default record-body caps (maxRequestBytes 64 MiB). */
const recordsDecoder = new BoundedMsgpackDecoder(msgpackCapsFor(64 * 1024 * 1024));
const utf8 = new TextEncoder();

/**
 * An accepted publish must be servable to every reader: its records go into a batch that decodes
 * back, and every field and header has a JSON form (a JSON reader of the partition never fails on it).
 */
function readBack(request: PublishRequest): void {
  try {
    const encoded = request.records.map((r) => encodeRecord({ timestamp: 1_700_000_000_000, key: r.key, headers: r.headers, fields: r.fields }, 1_700_000_000_000));
    const batch = encodeBatch(encoded, { baseOffset: 0, firstTimestamp: 1_700_000_000_000, maxTimestamp: 1_700_000_000_000, producer: request.producer });
    const header = readBatchHeader(batch);
    if (header === null) throw new Error("a whole batch read as a torn tail");
    for (const record of decodeBatchRecords(batch, header)) {
      toJsonValue(record.fields);
      toJsonValue(record.headers);
    }
  } catch (e) {
    throw new PropertyViolation(`an accepted publish cannot be read back as JSON: ${(e as Error).message}`, { cause: e });
  }
}

function publishFrom(value: unknown, form: BodyForm): void {
  readBack(toPublishRequest(parseInput(publishBodySchema, value, "publish request"), form, DEFAULT_PUBLISH_LIMITS));
}

// ---- publish bodies ----

const wireKey = fc.option(fc.oneof(fc.string({ maxLength: 12 }), fc.uint8Array({ maxLength: 12 })), { nil: undefined });

/** Valid numbers four times in five, edge cases otherwise. */
function mostlyValid(valid: fc.Arbitrary<number>): fc.Arbitrary<number> {
  return fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: edgeNumber, weight: 1 });
}

function publishBody(fields: fc.Arbitrary<unknown>, bytes: fc.Arbitrary<unknown>) {
  return fc.record(
    {
      records: fc.array(
        fc.record({ key: fc.option(bytes, { nil: undefined }), partition: fc.option(mostlyValid(fc.nat(3)), { nil: undefined }), headers: fc.option(fc.dictionary(fc.string({ maxLength: 6 }), bytes, { maxKeys: 3 }), { nil: undefined }), fields }, { requiredKeys: ["fields"] }),
        { minLength: 1, maxLength: 4 },
      ),
      producer: fc.option(fc.record({ id: mostlyValid(fc.nat()), epoch: mostlyValid(fc.nat(0xffff)), seq: mostlyValid(fc.nat()) }), { nil: undefined }),
    },
    { requiredKeys: ["records"] },
  );
}

const msgpackFields = fc.oneof({ arbitrary: fieldsValue, weight: 4 }, deepValue.map((d) => ({ deep: d })), logValue);
const msgpackPublishBody = publishBody(msgpackFields, fc.oneof(fc.string({ maxLength: 12 }), fc.uint8Array({ maxLength: 12 })));
const jsonPublishBody = publishBody(fc.oneof({ arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), jsonishValue, { maxKeys: 4 }), weight: 4 }, jsonishValue), fc.oneof(fc.string({ maxLength: 12 }), fc.record({ $base64: fc.base64String({ maxLength: 16 }) })));

function encodeValue(value: unknown): Uint8Array {
  return encodeMsgpackValue(value);
}

const jsonText = (value: fc.Arbitrary<unknown>) => value.map((v) => utf8.encode(JSON.stringify(v) ?? "null"));

// ---- batches, manifests, frames, safetensors ----

const batchBytes = fc
  .tuple(fc.array(fc.record({ timestamp: fc.nat(1_000_000), key: wireKey.map((k) => (typeof k === "string" ? utf8.encode(k) : k ?? null)), fields: fieldsValue }), { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([records, producer]) =>
    encodeBatch(
      records.map((r) => encodeRecord({ timestamp: 1000 + r.timestamp, key: r.key, headers: {}, fields: r.fields }, 1000)),
      { baseOffset: 42, firstTimestamp: 1000, maxTimestamp: 1000 + Math.max(...records.map((r) => r.timestamp)), producer: producer ? { id: 7, epoch: 1, seq: 3 } : null },
    ),
  );

/** A mutated batch whose CRC is sometimes recomputed, so the mutation reaches the record decoder (as a bad disk write with a good CRC would). */
const batchInput = fc.tuple(bytesLike(batchBytes), fc.boolean()).map(([bytes, fixCrc]) => {
  if (!fixCrc || bytes.length < 64) return bytes;
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  const length = Math.min(view.getUint32(4, true), out.length);
  if (length >= 20) view.setUint32(16, crc32c(out.subarray(20, length)), true);
  return out;
});

const manifestBytes = fc
  .record({
    chunks: fc.array(fc.record({ hash: fc.uint8Array({ minLength: CHUNK_HASH_BYTES, maxLength: CHUNK_HASH_BYTES }), length: fc.integer({ min: 1, max: 1 << 20 }) }), { maxLength: 6 }),
    mediaType: fc.constantFrom("application/octet-stream", "application/vnd.safetensors", "x/y"),
    tensors: fc.option(fc.array(fc.record({ dtype: fc.constantFrom("F32", "BF16", "I8"), shape: fc.array(fc.nat(64), { maxLength: 3 }) }), { maxLength: 3 }), { nil: undefined }),
  })
  .map(({ chunks, mediaType, tensors }): Uint8Array => {
    const size = chunks.reduce((n, c) => n + c.length, 0);
    const manifest: Manifest = { v: 1, size, mediaType, chunks };
    if (tensors === undefined || size === 0) return encodeManifest(manifest);
    // Tensors side by side over the start of the artefact.
    const step = Math.floor(size / (tensors.length + 1));
    const entries: Record<string, ManifestTensor> = {};
    tensors.forEach((t, i) => (entries[`t${i}`] = { dtype: t.dtype, shape: t.shape, begin: i * step, end: (i + 1) * step }));
    return encodeManifest({ ...manifest, tensors: entries });
  });

const QUIC_TYPES = ["hello", "hello-ok", "error", "publish", "ack", "fetch", "records", "latest", "latest-records", "commit", "committed", "stream-info", "stream-create", "stream", "manifest-get", "manifest", "chunks-missing", "missing", "chunks-put", "stored", "chunks-get", "chunks", "warp", ""];

/** The fields of a record on the wire: a map, or nil (a tombstone, docs/compaction.md). */
const recordFields = fc.oneof({ arbitrary: msgpackFields, weight: 4 }, fc.constant(null));

/** A QUIC frame map: any type, fields from every message, values valid or not. */
export const quicFrameObject = fc.record(
  {
    t: fc.constantFrom(...QUIC_TYPES),
    id: edgeNumber,
    versions: fc.oneof(fc.array(edgeNumber, { maxLength: 3 }), edgeNumber),
    token: fc.string({ maxLength: 8 }),
    max_frame_bytes: edgeNumber,
    stream: fc.oneof(fc.constantFrom("fuzz/s", "a", "../x", ""), fc.string({ maxLength: 8 })),
    records: fc.oneof(
      fc.array(fc.record({ fields: recordFields, key: wireKey, partition: edgeNumber }, { requiredKeys: ["fields"] }), { maxLength: 3 }),
      // The shape of a records answer (fetch) and of a latest-records answer.
      fc.array(fc.record({ key: fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 12 }), fc.string({ maxLength: 4 })), partition: edgeNumber, offset: edgeNumber, timestamp: edgeNumber, headers: fc.dictionary(fc.string({ maxLength: 4 }), fc.uint8Array({ maxLength: 4 }), { maxKeys: 2 }), fields: recordFields }, { requiredKeys: ["fields"] }), { maxLength: 3 }),
      logValue,
    ),
    partition: edgeNumber,
    offset: edgeNumber,
    group: fc.string({ maxLength: 8 }),
    acks: fc.constantFrom("local", "durable", "all"),
    fields: fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
    hashes: fc.array(fc.uint8Array({ minLength: 30, maxLength: 33 }), { maxLength: 3 }),
    manifest: fc.oneof(fc.string({ maxLength: 8 }), fc.uint8Array({ maxLength: 33 })),
    chunks: fc.array(fc.tuple(fc.uint8Array({ maxLength: 33 }), fc.uint8Array({ maxLength: 8 })), { maxLength: 2 }),
    // latest: one key, a watermark to wait past; latest-records: the watermark answered.
    key: wireKey,
    after: fc.oneof(fc.string({ maxLength: 8 }), fc.string({ minLength: 60, maxLength: 70 }), edgeNumber),
    wait_ms: fc.oneof(fc.nat(50), edgeNumber),
    watermark: fc.oneof(fc.string({ maxLength: 8 }), edgeNumber),
    next_offset: edgeNumber,
    end_offset: edgeNumber,
  },
  { requiredKeys: ["t"] },
);

/** A stream of QUIC frames (length prefix + MessagePack map), mutated, delivered in pieces. */
const quicStream = fc.tuple(bytesLike(fc.array(quicFrameObject, { minLength: 1, maxLength: 3 }).map((frames) => concat(frames.flatMap((f) => { const payload = encodeValue(f); return [frameHeader(Math.max(1, payload.length)), payload]; })))), splitPoints).map(([bytes, points]) => splitAt(bytes, points));

const DTYPE_NAMES = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "F8_E4M3", "f32", "X"];

const safetensorsHeaderObject = fc.dictionary(
  fc.oneof(fc.string({ maxLength: 6 }), fc.constant("__metadata__")),
  fc.oneof(
    fc.record({ dtype: fc.constantFrom(...DTYPE_NAMES), shape: fc.array(fc.oneof(fc.nat(8), edgeNumber), { maxLength: 3 }), data_offsets: fc.array(fc.oneof(fc.nat(64), edgeNumber), { maxLength: 3 }) }, { requiredKeys: [] }),
    fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(fc.string({ maxLength: 4 }), fc.nat())),
    fc.jsonValue({ maxDepth: 2 }),
  ),
  { maxKeys: 4 },
);

/** A valid file from the writer, with a few tensors of valid dtypes. */
const writtenSafetensors = fc
  .dictionary(fc.string({ minLength: 1, maxLength: 6 }).filter((n) => n !== "__metadata__"), fc.record({ dtype: fc.constantFrom("F64", "F32", "BF16", "I8", "U8"), shape: fc.array(fc.nat(4), { maxLength: 3 }) }), { maxKeys: 3 })
  .map((tensors) => {
    const inputs: Record<string, TensorInput> = {};
    for (const [name, t] of Object.entries(tensors)) inputs[name] = { dtype: t.dtype, shape: t.shape, data: new Uint8Array(t.shape.reduce((n, d) => n * d, 1) * DTYPE_SIZE[t.dtype]) };
    return writeSafetensors(inputs, { format: "pt" });
  });

const handMadeSafetensors = fc.tuple(safetensorsHeaderObject, fc.nat(64), fc.oneof({ arbitrary: fc.constant(0), weight: 4 }, fc.integer({ min: -2, max: 2 }))).map(([header, dataBytes, lengthSkew]) => {
  const json = utf8.encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setUint32(0, Math.max(0, json.length + lengthSkew), true);
  out.set(json, 8);
  return out;
});

const chunkFramesInput = fc.tuple(
  bytesLike(fc.array(fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 160 })), { maxLength: 4 }).map((chunks) => concat(chunks.flatMap(([hash, data]) => [encodeFrameHeader(hash, data.length), data])))),
  splitPoints,
).map(([bytes, points]) => splitAt(bytes, points));

// ---- the targets ----

export const TARGETS: readonly FuzzTarget[] = [
  target({
    name: "json-value",
    reads: "JSON tagged values of a publish ($base64, $tensor, $artefact), then their JSON form on read",
    input: fc.oneof(jsonishValue, fc.dictionary(fc.string({ maxLength: 8 }), jsonishValue, { maxKeys: 4 })),
    decode(value: unknown) {
      const fields = typeof value === "object" && value !== null && !Array.isArray(value) ? fromJsonFields(value as Record<string, unknown>) : fromJsonValue(value);
      try {
        toJsonValue(fields);
      } catch (e) {
        throw new PropertyViolation(`an accepted JSON value has no JSON form: ${(e as Error).message}`, { cause: e });
      }
    },
  }),
  target({
    name: "msgpack-value",
    reads: "one untrusted MessagePack value (bounds check, then the decoder with the log's extensions)",
    input: bytesLike(fc.oneof(logValue, deepValue, fieldsValue).map(encodeValue)),
    decode(bytes: Uint8Array) {
      new BoundedMsgpackDecoder(msgpackCapsFor(bytes.length)).decode(bytes);
    },
  }),
  target({
    name: "publish-msgpack",
    reads: "a MessagePack publish body (HTTP and the edge), accepted bodies read back as JSON",
    input: bytesLike(msgpackPublishBody.map(encodeValue)),
    decode(bytes: Uint8Array) {
      publishFrom(recordsDecoder.decode(bytes), "msgpack");
    },
  }),
  target({
    name: "publish-json",
    reads: "a JSON publish body (UTF-8, JSON.parse, schema, tags), accepted bodies read back as JSON",
    input: fc.oneof(jsonText(jsonPublishBody), bytesLike(jsonText(jsonPublishBody))),
    decode(bytes: Uint8Array) {
      let value: unknown;
      try {
        value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
      } catch (e) {
        // What the gateway's readBody answers for a body that is not JSON.
        throw new StrataError("BAD_REQUEST", `malformed JSON body: ${(e as Error).message}`);
      }
      publishFrom(value, "json");
    },
  }),
  target({
    name: "batch",
    reads: "a stored batch (64-byte header, CRC32C, MessagePack records), decoded and scanned",
    input: batchInput,
    decode(bytes: Uint8Array) {
      const header = readBatchHeader(bytes, { maxLength: 64 * 1024 * 1024 });
      if (header === null) return;
      decodeBatchRecords(bytes, header);
      scanBatchRecords(bytes, header);
    },
  }),
  target({
    name: "manifest",
    reads: "an artefact manifest (canonical MessagePack)",
    input: bytesLike(manifestBytes),
    decode(bytes: Uint8Array) {
      decodeManifest(bytes);
    },
  }),
  target({
    name: "quic-frames",
    reads: "a QUIC stream: length-prefixed frames in any split, each decoded and parsed as a message",
    input: quicStream,
    decode(pieces: Uint8Array[]) {
      const decoder = new FrameDecoder(MAX_HELLO_FRAME_BYTES);
      for (const piece of pieces) for (const payload of decoder.push(piece)) parseMessage(decodeFramePayload(payload));
      decoder.end();
    },
  }),
  target({
    name: "safetensors",
    reads: "a safetensors header (u64 length, JSON), and the whole file",
    input: bytesLike(fc.oneof(writtenSafetensors, handMadeSafetensors)),
    decode(bytes: Uint8Array) {
      parseSafetensorsHeader(bytes);
      readSafetensors(bytes);
    },
  }),
  target({
    name: "chunk-frames",
    reads: "chunk frames ([32-byte hash][u32 length][bytes]) in any split",
    input: chunkFramesInput,
    decode(pieces: Uint8Array[]) {
      const parser = new ChunkFrameParser(128);
      for (const piece of pieces) parser.push(piece);
      parser.end();
    },
  }),
];
