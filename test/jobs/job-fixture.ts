// Helpers of the checkpoint tests: raw artefact uploads (POST /v1/artefacts), JSON calls with an
// optional bearer token, and waiting for a condition.
import { expect } from "bun:test";
import { randomBytes } from "../artefacts/gateway-fixture.ts";

export interface Answer {
  readonly status: number;
  // The answers are checked field by field by the tests.
  readonly body: any;
}

export async function call(url: string, method: string, path: string, body?: unknown, token?: string): Promise<Answer> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text.length === 0 ? null : JSON.parse(text) };
}

/** Uploads bytes as an artefact; answers its manifest id. */
export async function uploadShard(url: string, bytes: Uint8Array<ArrayBuffer>, token?: string): Promise<string> {
  const headers: Record<string, string> = { "content-type": "application/octet-stream" };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${url}/v1/artefacts?media_type=application/octet-stream`, { method: "POST", headers, body: bytes });
  const answer = (await response.json()) as { id: string };
  expect([200, 201]).toContain(response.status);
  return answer.id;
}

/** Deterministic pseudo-random bytes, so shards of different seeds never share chunks. */
export function shardBytes(length: number, seed: number): Uint8Array<ArrayBuffer> {
  return randomBytes(length, (seed * 2654435761) >>> 0);
}

/** Polls `check` until it answers true (a test timeout bounds the wait). */
export async function waitFor(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function commitPath(job: string, id: string, rank: number): string {
  return `/v1/jobs/${job}/checkpoints/${id}/ranks/${rank}`;
}
