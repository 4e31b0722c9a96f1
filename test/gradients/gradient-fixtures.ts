// Shared pieces of the gradient tests: f32 tensors in the `$tensor` JSON form, a contribution
// posted to a gateway, and a JSON read of a stream's records.
import { bytesToBase64 } from "../../core/log/json-value.ts";
import { streamParam } from "../../gateway/client.ts";

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
