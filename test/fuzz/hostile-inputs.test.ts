// Hand-made inputs that random generation rarely reaches: nesting far past every depth limit and
// length headers that claim billions of items. Each decoder refuses them with a 4xx StrataError
// (test/fuzz/outcome.ts); none overflows the stack or allocates what a header claims.
import { expect, test } from "bun:test";
import { decodeManifest } from "../../core/artefacts/manifest.ts";
import { decodeBatchRecords, encodeBatch, readBatchHeader, scanBatchRecords } from "../../core/log/batch.ts";
import { TENSOR_EXT_TYPE } from "../../core/log/extensions.ts";
import { BoundedMsgpackDecoder, msgpackCapsFor } from "../../core/log/msgpack-bounds.ts";
import { decodeFramePayload } from "../../core/quic/frames.ts";
import { parseSafetensorsHeader } from "../../core/tensors/safetensors.ts";
import { concat } from "./arbitraries.ts";
import { outcomeOf, type Outcome } from "./outcome.ts";

const NESTING = 100_000;

/** A Tensor extension (ext32) whose payload is a Tensor extension, `n` deep, around nil. */
function nestedTensorExt(n: number): Uint8Array {
  const out = new Uint8Array(6 * n + 1);
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    out[6 * i] = 0xc9;
    view.setUint32(6 * i + 1, out.length - 6 * (i + 1));
    out[6 * i + 5] = TENSOR_EXT_TYPE;
  }
  out[6 * n] = 0xc0;
  return out;
}

/** fixarray(1) `n` deep around nil. */
function nestedArrays(n: number): Uint8Array {
  const out = new Uint8Array(n + 1).fill(0x91);
  out[n] = 0xc0;
  return out;
}

/** A batch with a valid header and CRC around one record [0, nil, {}, fields]: what a disk write with a good CRC but bad contents holds. */
function batchWithFields(fields: Uint8Array): Uint8Array {
  return encodeBatch([concat([Uint8Array.of(0x94, 0x00, 0xc0, 0x80), fields])], { baseOffset: 0, firstTimestamp: 1, maxTimestamp: 1, producer: null });
}

function decodeBatch(batch: Uint8Array): void {
  const header = readBatchHeader(batch);
  if (header === null) throw new Error("a whole batch read as a torn tail");
  scanBatchRecords(batch, header);
  decodeBatchRecords(batch, header);
}

function refusedWith(outcome: Outcome, code: string): void {
  expect(outcome).toEqual({ kind: "refused", code });
}

test("MessagePack nested far past the depth limit is refused before decoding", () => {
  const arrays = nestedArrays(NESTING);
  refusedWith(outcomeOf(() => new BoundedMsgpackDecoder(msgpackCapsFor(arrays.length)).decode(arrays)), "BAD_REQUEST");
  const exts = nestedTensorExt(NESTING);
  refusedWith(outcomeOf(() => new BoundedMsgpackDecoder(msgpackCapsFor(exts.length)).decode(exts)), "BAD_REQUEST");
  const frame = concat([Uint8Array.of(0x81, 0xa1, 0x74), exts]);
  refusedWith(outcomeOf(() => decodeFramePayload(frame)), "BAD_REQUEST");
});

test("a stored batch with a good CRC and hostile records is decoded or CORRUPT_DATA, never a crash", () => {
  refusedWith(outcomeOf(() => decodeBatch(batchWithFields(nestedTensorExt(NESTING)))), "CORRUPT_DATA");
  // The storage decoders bound no depth (what they read was bounded at publish): deep values decode, without a stack overflow.
  expect(outcomeOf(() => decodeBatch(batchWithFields(nestedArrays(NESTING))))).toEqual({ kind: "accepted" });
  // array32 and map32 headers claiming 2^32 - 1 and 2^31 - 1 items in a few bytes.
  refusedWith(outcomeOf(() => decodeBatch(batchWithFields(Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff)))), "CORRUPT_DATA");
  refusedWith(outcomeOf(() => decodeBatch(batchWithFields(Uint8Array.of(0xdf, 0x7f, 0xff, 0xff, 0xff)))), "CORRUPT_DATA");
});

test("a manifest nested deep or made of extensions is CORRUPT_DATA", () => {
  refusedWith(outcomeOf(() => decodeManifest(nestedArrays(NESTING))), "CORRUPT_DATA");
  refusedWith(outcomeOf(() => decodeManifest(nestedTensorExt(1000))), "CORRUPT_DATA");
  refusedWith(outcomeOf(() => decodeManifest(Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff))), "CORRUPT_DATA");
});

test("a safetensors header of deeply nested JSON is INVALID_SAFETENSORS", () => {
  const json = new TextEncoder().encode(`{"a":${"[".repeat(NESTING)}${"]".repeat(NESTING)}}`);
  const file = new Uint8Array(8 + json.length);
  new DataView(file.buffer).setUint32(0, json.length, true);
  file.set(json, 8);
  refusedWith(outcomeOf(() => parseSafetensorsHeader(file)), "INVALID_SAFETENSORS");
});
