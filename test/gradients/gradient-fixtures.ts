// Shared pieces of the gradient tests: f32 tensors in the `$tensor` JSON form, a contribution
// posted to a gateway, and a JSON read of a stream's records.
import { StrataError } from "../../core/errors.ts";
import { makeTensor } from "../../core/log/extensions.ts";
import { bytesToBase64 } from "../../core/log/json-value.ts";
import type { Tensor } from "../../core/log/record.ts";
import { convertFloat } from "../../core/tensors/dtype.ts";
import { streamParam } from "../../gateway/client.ts";
import type { GatewayConnection } from "../../gateway/client/gateway-call.ts";
import { readPartition, type StoredRecord } from "../../gateway/client/gradient-http.ts";
import { meanRecordSchema, meanStreamOf, type MeanRecord } from "../../gateway/gradients/gradient-wire.ts";

export interface PostAnswer {
  readonly status: number;
  readonly body: { stream?: string; step?: number; rank?: number; partition?: number; offset?: number; error?: { code: string; message: string } };
}

/** The little-endian bytes of f32 values. */
export function f32Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** A tensor in the log's JSON form. */
export function jsonTensor(dtype: string, shape: readonly number[], data: Uint8Array): { $tensor: { dtype: string; shape: number[]; data: { $base64: string } } } {
  return { $tensor: { dtype, shape: [...shape], data: { $base64: bytesToBase64(data) } } };
}

export function f32Tensor(shape: readonly number[], values: readonly number[]): ReturnType<typeof jsonTensor> {
  return jsonTensor("F32", shape, f32Bytes(values));
}

export async function contribute(url: string, stream: string, step: number | string, body: unknown, token?: string): Promise<PostAnswer> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${url}/v1/gradients/${streamParam(stream)}/steps/${step}`, { method: "POST", headers, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as PostAnswer["body"] };
}

export interface JsonRecordRead {
  readonly offset: number;
  readonly key: { $base64: string } | null;
  readonly headers: Record<string, string>;
  readonly fields: Record<string, unknown>;
}

/** Every record of partition 0 of `stream` from offset 0 (none when the stream does not exist). */
export async function readAll(url: string, stream: string, token?: string): Promise<JsonRecordRead[]> {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const response = await fetch(`${url}/v1/streams/${streamParam(stream)}/partitions/0/records?offset=0&max_records=10000`, { headers });
  if (response.status === 404) return [];
  const body = (await response.json()) as { records: JsonRecordRead[] };
  return body.records;
}

/** Waits for the record of `step` on `{stream}.mean` (long-polling reads, no fixed sleeps); its decoded fields and headers. */
export async function waitForMean(connection: GatewayConnection, stream: string, step: number, timeoutMs = 20_000): Promise<{ record: StoredRecord; mean: MeanRecord }> {
  const end = Date.now() + timeoutMs;
  let offset = 0;
  while (Date.now() < end) {
    const answer = await readPartition(connection, meanStreamOf(stream), 0, offset, 1000).catch((e: unknown) => {
      if (e instanceof StrataError && e.code === "STREAM_NOT_FOUND") return { records: [], next_offset: offset, end_offset: offset };
      throw e;
    });
    for (const record of answer.records) {
      const mean = meanRecordSchema.parse(record.fields);
      if (mean.step === step) return { record, mean };
    }
    offset = answer.next_offset;
    if (answer.records.length === 0) await Bun.sleep(20);
  }
  throw new Error(`no mean of step ${step} on ${meanStreamOf(stream)} within ${timeoutMs} ms`);
}

/** Every mean record of `{stream}.mean` now. */
export async function allMeans(connection: GatewayConnection, stream: string): Promise<MeanRecord[]> {
  const answer = await readPartition(connection, meanStreamOf(stream), 0, 0, 0);
  return answer.records.map((r) => meanRecordSchema.parse(r.fields));
}

/** The f32 values of a tensor of any gradient dtype. */
export function valuesOf(tensor: Tensor): number[] {
  const dtype = tensor.dtype.toUpperCase();
  const bytes = dtype === "F32" ? tensor.data.slice() : convertFloat(tensor.data, dtype === "F16" ? "F16" : "BF16", "F32");
  return [...new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)];
}

/** A tensor of `dtype` holding `values` (exactly representable ones, so no rounding enters a comparison). */
export function tensorOf(dtype: "F32" | "F16" | "BF16", shape: readonly number[], values: readonly number[]): Tensor {
  const f32 = f32Bytes(values);
  return makeTensor(dtype, shape, dtype === "F32" ? f32 : convertFloat(f32, "F32", dtype));
}

/** The reference mean: f32 sums in the given order (starting from the first contribution, so a lone -0 stays -0), divided in f32. */
export function referenceMean(contributions: readonly (readonly number[])[]): number[] {
  const sums = Float32Array.from(contributions[0]!);
  for (const values of contributions.slice(1)) for (let i = 0; i < sums.length; i++) sums[i]! += values[i]!;
  return [...sums].map((s) => Math.fround(s / contributions.length));
}
