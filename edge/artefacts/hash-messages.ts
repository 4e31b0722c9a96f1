// Messages between the chunk hasher and its worker (chunk-hasher.ts, hash-worker.ts).
export interface HashRequest {
  readonly id: number;
  /** Owns its ArrayBuffer, which is transferred to the worker and back. */
  readonly bytes: Uint8Array;
}

export interface HashAnswer extends HashRequest {
  readonly hash: Uint8Array;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

export function isHashRequest(v: unknown): v is HashRequest {
  return isRecord(v) && Number.isSafeInteger(v.id) && v.bytes instanceof Uint8Array;
}

export function isHashAnswer(v: unknown): v is HashAnswer {
  return isHashRequest(v) && isRecord(v) && v.hash instanceof Uint8Array && v.hash.length === 32;
}
