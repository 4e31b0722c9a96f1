// Sample reads on the wire: `{"start", "samples": [fields map, …], "offsets": [[partition, offset], …]}`.
// MessagePack is built as response parts like read-wire.ts's raw reads: the framing and small
// values copied into one exactly sized buffer, every fields map of at least VIEW_MIN_BYTES sent as
// a view of its stored batch (no decode, re-encode or copy of the sample bytes). A projection
// decodes and re-encodes the kept fields. JSON uses the tagged forms of core/log/json-value.ts.
import { toJsonValue } from "../../core/log/json-value.ts";
import { msgpackArrayHeaderSize, msgpackUintSize, msgpackFixstr } from "../../core/log/msgpack-writer.ts";
import { uninitialized } from "../../core/util/buffers.ts";
import { copiedLength, PartsWriter, type ResponseParts } from "../streams/read-wire.ts";
import type { SampleReadResponse } from "./dataset-wire.ts";
import { decodeSampleFields, type SampleBatch } from "./sample-reader.ts";

const K_START = msgpackFixstr("start");
const K_SAMPLES = msgpackFixstr("samples");
const K_OFFSETS = msgpackFixstr("offsets");
const NIL = 0xc0;
const MAP_OF_3 = 0x83;
const ARRAY_OF_2 = 0x92;

/** A fields map as bytes of `source`: a stored record's map in its batch, or a re-encoded projection. */
interface FieldsMap {
  readonly source: Uint8Array;
  readonly range: readonly [number, number];
}

/**
 * The MessagePack answer as parts. Without a projection (`fields` undefined) the stored maps are
 * forwarded; with one, `encodeFields` re-encodes each projected map.
 */
export function sampleResponseParts(batch: SampleBatch, fields: readonly string[] | undefined, encodeFields: (value: Record<string, unknown>) => Uint8Array): ResponseParts {
  const { samples } = batch;
  const maps: FieldsMap[] = samples.map((s) => {
    if (fields === undefined) return { source: s.record.batch, range: s.record.fields };
    const source = encodeFields(decodeSampleFields(s, fields));
    return { source, range: [0, source.length] };
  });
  let copied = 1 + K_START.length + (batch.start === null ? 1 : msgpackUintSize(batch.start));
  copied += K_SAMPLES.length + msgpackArrayHeaderSize(samples.length) + K_OFFSETS.length + msgpackArrayHeaderSize(samples.length);
  let viewed = 0;
  for (const m of maps) {
    const stored = copiedLength(m.range);
    copied += stored;
    viewed += m.range[1] - m.range[0] - stored;
  }
  for (const s of samples) copied += 1 + msgpackUintSize(s.partition) + msgpackUintSize(s.offset);
  // Fully overwritten below, so the zero fill would be wasted.
  const w = new PartsWriter(uninitialized(copied));
  w.byte(MAP_OF_3);
  w.bytes(K_START);
  if (batch.start === null) w.byte(NIL);
  else w.uint(batch.start);
  w.bytes(K_SAMPLES);
  w.arrayHeader(samples.length);
  for (const m of maps) w.range(m.source, m.range);
  w.bytes(K_OFFSETS);
  w.arrayHeader(samples.length);
  for (const s of samples) {
    w.byte(ARRAY_OF_2); // [partition, offset]
    w.uint(s.partition);
    w.uint(s.offset);
  }
  return { parts: w.finish(), length: copied + viewed };
}

/** The JSON answer (bytes as {"$base64"}, tensors and artefact refs in their tagged forms). */
export function samplesJson(batch: SampleBatch, fields: readonly string[] | undefined): SampleReadResponse {
  return {
    start: batch.start,
    samples: batch.samples.map((s) => toJsonValue(decodeSampleFields(s, fields)) as Record<string, unknown>),
    offsets: batch.samples.map((s) => [s.partition, s.offset]),
  };
}
