// Worker entry of the chunk hasher (chunk-hasher.ts): BLAKE3 of each chunk it is sent, on the
// core's WASM kernel (instantiated from bytes in this worker), the bytes handed back with the hash.
import { blake3 } from "../../core/hashing/blake3.ts";
import { isHashRequest, type HashAnswer } from "./hash-messages.ts";

declare const self: { onmessage: ((e: { data: unknown }) => void) | null; postMessage(message: HashAnswer, transfer: ArrayBuffer[]): void };

self.onmessage = (e) => {
  if (!isHashRequest(e.data)) return;
  const { id, bytes } = e.data;
  const hash = blake3(bytes);
  self.postMessage({ id, bytes, hash }, [bytes.buffer as ArrayBuffer]);
};
