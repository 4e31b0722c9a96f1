// BLAKE3 of received chunks, on the calling thread or in a Worker (Bun and Deno have the web
// Worker; so does a browser) so that hashing uses a second core while the main thread reads the
// network and writes files. A worker that cannot start or fails makes every later chunk hash
// inline: a missing worker costs speed, never a check.
import { blake3 } from "../../core/hashing/blake3.ts";
import { invariant } from "../../core/errors.ts";
import { type HashAnswer, isHashAnswer } from "./hash-messages.ts";

export interface HashedChunk {
  /** The chunk's bytes: the same view (inline) or a copy the caller now owns (worker). */
  readonly bytes: Uint8Array;
  readonly hash: Uint8Array;
}

export interface ChunkHasher {
  /** BLAKE3 of `bytes` (which the hasher may copy: use the returned bytes). */
  hash(bytes: Uint8Array): Promise<HashedChunk>;
  /** Where hashes run now: "worker", or "inline" (no Worker, or it failed or was closed). */
  where(): "worker" | "inline";
  close(): void;
}

export const inlineHasher: ChunkHasher = {
  hash: (bytes) => Promise.resolve({ bytes, hash: blake3(bytes) }),
  where: () => "inline",
  close: () => undefined,
};

interface WorkerLike {
  onmessage: ((e: { data: unknown }) => void) | null;
  onerror: ((e: unknown) => void) | null;
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  terminate(): void;
}

type WorkerState = { readonly state: "running"; readonly worker: WorkerLike } | { readonly state: "failed" } | { readonly state: "closed" };

/** A hasher on one Worker, or the inline one where the runtime has no Worker. */
export function workerHasher(): ChunkHasher {
  const WorkerCtor = (globalThis as { Worker?: new (url: URL, options?: { type: "module" }) => WorkerLike }).Worker;
  if (!WorkerCtor) return inlineHasher;
  let worker: WorkerState;
  try {
    worker = { state: "running", worker: new WorkerCtor(new URL("./hash-worker.ts", import.meta.url), { type: "module" }) };
  } catch {
    return inlineHasher;
  }
  const pending = new Map<number, { bytes: Uint8Array; resolve: (h: HashedChunk) => void }>();
  let nextId = 0;
  const fail = (): void => {
    if (worker.state === "running") worker.worker.terminate();
    worker = { state: "failed" };
    // The bytes sent were transferred away: the copies kept in `pending` are hashed here instead.
    for (const [id, p] of pending) {
      pending.delete(id);
      p.resolve({ bytes: p.bytes, hash: blake3(p.bytes) });
    }
  };
  worker.worker.onerror = fail;
  worker.worker.onmessage = (e) => {
    if (!isHashAnswer(e.data)) return fail();
    const answer: HashAnswer = e.data;
    const p = pending.get(answer.id);
    invariant(p !== undefined, `hash worker answered unknown request ${answer.id}`);
    pending.delete(answer.id);
    p.resolve({ bytes: answer.bytes, hash: answer.hash });
  };
  return {
    hash(bytes) {
      if (worker.state !== "running") return inlineHasher.hash(bytes);
      const running = worker.worker;
      // One copy that the worker owns and hands back (the original may be a view into a network buffer).
      const own = bytes.slice();
      const id = nextId++;
      return new Promise<HashedChunk>((resolve) => {
        pending.set(id, { bytes, resolve });
        running.postMessage({ id, bytes: own }, [own.buffer]);
      });
    },
    where: () => (worker.state === "running" ? "worker" : "inline"),
    close() {
      if (worker.state === "running") worker.worker.terminate();
      worker = { state: "closed" };
      for (const [id, p] of pending) {
        pending.delete(id);
        p.resolve({ bytes: p.bytes, hash: blake3(p.bytes) });
      }
    },
  };
}
