// Sample reads on the wire: `{"start", "samples": [fields map, …], "offsets": [[partition, offset], …]}`.
// MessagePack without a projection copies each stored fields map as it is (one copy of the record
// bytes, no decode or re-encode, like read-wire.ts's encodeRawReadResponse); a projection decodes
// and re-encodes the kept fields. JSON uses the tagged forms of core/log/json-value.ts.
import { invariant } from "../../core/errors.ts";
import { toJsonValue } from "../../core/log/json-value.ts";
import { msgpackArrayHeaderSize, msgpackUintSize, writeMsgpackArrayHeader, writeMsgpackUint } from "../../core/log/msgpack-writer.ts";
import { decodeSampleFields, type SampleBatch } from "./sample-reader.ts";
import type { SampleReadResponse } from "./dataset-wire.ts";

const fixstr = (s: string): Uint8Array => Uint8Array.from([0xa0 | s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))]);
const K_START = fixstr("start");
const K_SAMPLES = fixstr("samples");
const K_OFFSETS = fixstr("offsets");
const NIL = 0xc0;

/**
 * The MessagePack answer. `encodeFields` re-encodes a projected fields map; without a
 * projection (`fields` undefined) the stored bytes are copied.
 */
export function encodeSamplesMsgpack(batch: SampleBatch, fields: readonly string[] | undefined, encodeFields: (value: Record<string, unknown>) => Uint8Array): Uint8Array {
  const { samples } = batch;
  const maps: Uint8Array[] = samples.map((s) => (fields === undefined ? s.record.batch.subarray(s.record.fields[0], s.record.fields[1]) : encodeFields(decodeSampleFields(s, fields))));
  let size = 1 + K_START.length + (batch.start === null ? 1 : msgpackUintSize(batch.start));
  size += K_SAMPLES.length + msgpackArrayHeaderSize(samples.length);
  for (const m of maps) size += m.length;
  size += K_OFFSETS.length + msgpackArrayHeaderSize(samples.length);
  for (const s of samples) size += 1 + msgpackUintSize(s.partition) + msgpackUintSize(s.offset);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = 0x83; // map of 3
  let at = 1;
  out.set(K_START, at);
  at += K_START.length;
  if (batch.start === null) out[at++] = NIL;
  else at = writeMsgpackUint(out, view, at, batch.start);
  out.set(K_SAMPLES, at);
  at += K_SAMPLES.length;
  at = writeMsgpackArrayHeader(out, view, at, samples.length);
  for (const m of maps) {
    out.set(m, at);
    at += m.length;
  }
  out.set(K_OFFSETS, at);
  at += K_OFFSETS.length;
  at = writeMsgpackArrayHeader(out, view, at, samples.length);
  for (const s of samples) {
    out[at++] = 0x92; // [partition, offset]
    at = writeMsgpackUint(out, view, at, s.partition);
    at = writeMsgpackUint(out, view, at, s.offset);
  }
  invariant(at === size, `sample response: wrote ${at} of ${size} bytes`);
  return out;
}

/** The JSON answer (bytes as {"$base64"}, tensors and artefact refs in their tagged forms). */
export function samplesJson(batch: SampleBatch, fields: readonly string[] | undefined): SampleReadResponse {
  return {
    start: batch.start,
    samples: batch.samples.map((s) => toJsonValue(decodeSampleFields(s, fields)) as Record<string, unknown>),
    offsets: batch.samples.map((s) => [s.partition, s.offset]),
  };
}
