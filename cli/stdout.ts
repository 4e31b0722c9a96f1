// Command output on stdout, written with backpressure: a slow reader (`| less`, a full pipe)
// pauses the command instead of letting output pile up in memory.
import type { Writable } from "node:stream";

/** Writes `text` (or bytes); resolves once the stream can take more. */
export function writeTo(stream: Writable, data: string | Uint8Array): Promise<void> {
  if (data.length === 0 || stream.write(data)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (error?: Error): void => {
      stream.off("drain", onDrain);
      stream.off("error", done);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = (): void => done();
    stream.once("drain", onDrain);
    stream.once("error", done);
  });
}

export function writeOut(data: string | Uint8Array): Promise<void> {
  return writeTo(process.stdout, data);
}
